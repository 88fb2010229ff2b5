/** Flags and wiring of `runner-fleet rotate-token`; the flow is in rotate-token.ts. */
import { awsSetupProblems, cloudFormationClient, ssmClient } from '../aws/clients.ts';
import { parseIntegerFlag } from '../config/deploy-config.ts';
import { gitlabApiUrl, gitlabTokenFromEnv } from '../config/gitlab-access.ts';
import { InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { asString, type CommandSpec, regionOption, runnerIdOption } from './command-spec.ts';
import { rotateToken } from './rotate-token.ts';
import { tokenParameterName, tokenParameterProblem } from './runner-token-source.ts';

export const rotateTokenCommand: CommandSpec = {
  name: 'rotate-token',
  usage: `runner-fleet rotate-token --stack-name NAME [options]

  --stack-name NAME              the fleet stack (its RunnerTokenParameterName)
  --runner-token-parameter NAME  the SSM SecureString instead of the stack's
  --if-expires-within-days N     rotate only when the token expires within N days
                                 (a nightly schedule can call it every time)
  --runner-id N                  the runner, when the parameter does not record it
  --runner-token-kms-key KEY     KMS key id/alias for the new SecureString version
  --gitlab-url URL               GitLab (default: CI_API_V4_URL / CI_SERVER_URL)
  --region REGION                AWS region (default: AWS_REGION)

Resets the token with the current one from SSM (POST /runners/reset_authentication_token),
or by runner id when RUNNER_FLEET_GITLAB_TOKEN is set (POST /runners/:id/reset_authentication_token,
which also recovers an expired token). The new token becomes a new version of
the parameter; the instances' lifecycle agents swap it into config.toml within
a minute and the runner reloads it without stopping running jobs.

Environment:
  RUNNER_FLEET_GITLAB_TOKEN   optional: access token that may manage the runner`,
  options: {
    'stack-name': { type: 'string' },
    'runner-token-parameter': { type: 'string' },
    'if-expires-within-days': { type: 'string' },
    'runner-id': { type: 'string' },
    'runner-token-kms-key': { type: 'string' },
    'gitlab-url': { type: 'string' },
    region: { type: 'string' },
  },
  async run(flags, context) {
    const problems: string[] = [];
    const parameterFlag = asString(flags['runner-token-parameter']);
    const stackName = asString(flags['stack-name']);
    const parameterProblem = tokenParameterProblem(parameterFlag);
    if (parameterProblem) problems.push(parameterProblem);
    if (!parameterFlag && !stackName)
      problems.push('pass --stack-name NAME or --runner-token-parameter NAME');
    const rawDays = asString(flags['if-expires-within-days']);
    const days = parseIntegerFlag('--if-expires-within-days', rawDays, 0, problems, { min: 0, max: 3650 });
    const runnerId = runnerIdOption(flags, problems);
    const apiUrl = gitlabApiUrl(asString(flags['gitlab-url']), context.env);
    if (!apiUrl) problems.push('no GitLab URL: pass --gitlab-url or set CI_SERVER_URL');
    const cloudFormation = cloudFormationClient(regionOption(flags));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0 || !apiUrl) throw new InputError(problems);

    const parameterName = await tokenParameterName(cloudFormation, parameterFlag, stackName);
    const apiToken = gitlabTokenFromEnv(context.env);
    const kmsKeyId = asString(flags['runner-token-kms-key']);
    await rotateToken(
      {
        parameterName,
        ...(rawDays !== undefined ? { ifExpiresWithinDays: days } : {}),
        ...(runnerId !== undefined ? { runnerId } : {}),
        ...(kmsKeyId ? { kmsKeyId } : {}),
      },
      {
        ssm: await ssmClient(regionOption(flags)),
        // Runner-token endpoints authenticate with the token in the body.
        runnerApi: createGitLabClient({ apiUrl, token: '' }),
        ...(apiToken ? { api: createGitLabClient({ apiUrl, token: apiToken }) } : {}),
        log: context.log,
      },
    );
  },
};
