/** Inputs and wiring of `runner-fleet rotate-token`; the flow is in rotate-token.ts. */
import { awsSetupProblems, cloudFormationClient, ssmClient } from '../aws/clients.ts';
import {
  gitlabUrl,
  gitlabUrlRequired,
  optionalStackName,
  region,
  runnerId,
  runnerTokenKmsKey,
} from '../cli-input/common-flags.ts';
import { gitlabApiUrl } from '../config/gitlab-access.ts';
import { InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { defineCommand, regionOption } from './command-spec.ts';
import { rotateToken } from './rotate-token.ts';
import { runnerTokenParameter, tokenParameterName, tokenParameterOrStack } from './runner-token-source.ts';

export const rotateTokenCommand = defineCommand({
  name: 'rotate-token',
  synopsis: 'runner-fleet rotate-token --stack-name NAME [options]',
  flags: {
    'stack-name': { ...optionalStackName, help: 'the fleet stack (its RunnerTokenParameterName)' },
    'runner-token-parameter': {
      ...runnerTokenParameter,
      help: "the SSM SecureString instead of the stack's",
    },
    'if-expires-within-days': {
      type: 'integer',
      placeholder: 'N',
      min: 0,
      max: 3650,
      help: 'rotate only when the token expires within N days (a nightly schedule can call it every time)',
    },
    'runner-id': { ...runnerId, help: 'the runner, when the parameter does not record it' },
    'runner-token-kms-key': {
      ...runnerTokenKmsKey,
      help: 'KMS key id/alias for the new SecureString version',
    },
    'gitlab-url': gitlabUrl,
    region,
  },
  environment: {
    RUNNER_FLEET_GITLAB_TOKEN: { help: 'optional: access token that may manage the runner' },
  },
  notes: `Resets the token with the current one from SSM (POST /runners/reset_authentication_token),
or by runner id when RUNNER_FLEET_GITLAB_TOKEN is set (POST /runners/:id/reset_authentication_token,
which also recovers an expired token). The new token becomes a new version of
the parameter; the instances' lifecycle agents swap it into config.toml within
a minute and the runner reloads it without stopping running jobs.`,
  checks: [tokenParameterOrStack, gitlabUrlRequired],
  async run({ flags, env, problems }, context) {
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    const apiUrl = gitlabApiUrl(flags['gitlab-url']);
    if (problems.length > 0 || !apiUrl) throw new InputError(problems);

    const parameterName = await tokenParameterName(
      cloudFormation,
      flags['runner-token-parameter'],
      flags['stack-name'],
    );
    const apiToken = env.RUNNER_FLEET_GITLAB_TOKEN;
    const kmsKeyId = flags['runner-token-kms-key'];
    const days = flags['if-expires-within-days'];
    await rotateToken(
      {
        parameterName,
        ...(days !== undefined ? { ifExpiresWithinDays: days } : {}),
        ...(flags['runner-id'] !== undefined ? { runnerId: flags['runner-id'] } : {}),
        ...(kmsKeyId ? { kmsKeyId } : {}),
      },
      {
        ssm: await ssmClient(regionOption(flags.region)),
        // Runner-token endpoints authenticate with the token in the body.
        runnerApi: createGitLabClient({ apiUrl, token: '' }),
        ...(apiToken ? { api: createGitLabClient({ apiUrl, token: apiToken }) } : {}),
        log: context.log,
      },
    );
  },
});
