/** Flags and wiring of `runner-fleet create-runner`; the flow is in create-runner.ts. */
import { awsSetupProblems, cloudFormationClient, ssmClient } from '../aws/clients.ts';
import { gitlabApiUrl, gitlabTokenFromEnv } from '../config/gitlab-access.ts';
import { collectInputProblems, InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { asString, type CommandSpec, regionOption } from './command-spec.ts';
import { createRunner } from './create-runner.ts';
import { loadRunnerSettings } from './create-runner-settings.ts';
import { tokenParameterName, tokenParameterProblem } from './runner-token-source.ts';

export const createRunnerCommand: CommandSpec = {
  name: 'create-runner',
  usage: `runner-fleet create-runner --runner-token-parameter NAME --settings FILE [options]

  --runner-token-parameter NAME  SSM SecureString for the runner token (default: the
                              stack's RunnerTokenParameterName, with --stack-name)
  --stack-name NAME           the fleet stack (names the parameter when it exists)
  --settings FILE             runner settings, YAML: runner_type, group, project,
                              description, tag_list, run_untagged, locked, paused,
                              maximum_timeout, access_level, maintenance_note
  --runner-type TYPE          instance_type, group_type or project_type
  --group ID|PATH             group of a group_type runner
  --project ID|PATH           project of a project_type runner
  --description TEXT          runner description
  --tag TAG                   a runner tag; repeatable; replaces tag_list
  --run-untagged true|false   take jobs without tags
  --locked true|false         project runners: locked to their projects
  --paused true|false         take no new jobs
  --maximum-timeout SECONDS   longest job timeout the runner allows (at least 600)
  --access-level LEVEL        not_protected or ref_protected
  --maintenance-note TEXT     free-form note shown in GitLab
  --dry-run                   show what would be created or changed; change nothing
  --runner-token-kms-key KEY  KMS key id/alias for the SecureString (default: aws/ssm)
  --gitlab-url URL            GitLab (default: CI_API_V4_URL / CI_SERVER_URL)
  --region REGION             AWS region (default: AWS_REGION)

The first run creates the runner (POST /user/runners) and writes its glrt-
token into the SSM parameter, tagged runner-fleet:runner-id with the runner's
id. Later runs find that tag and update the runner (PUT /runners/:id) instead
of creating another one. A parameter that already holds a working token
without that tag (stored by deploy --runner-token-from-env) is adopted: its
runner is tagged and updated, not replaced. Flags override the settings file.
The token is never printed, written to a file or passed on a command line.

Environment:
  RUNNER_FLEET_GITLAB_TOKEN   access token with the create_runner scope (or api):
                              Owner of the group, Maintainer of the project, or
                              an administrator for instance runners`,
  options: {
    'runner-token-parameter': { type: 'string' },
    'stack-name': { type: 'string' },
    settings: { type: 'string' },
    'runner-type': { type: 'string' },
    group: { type: 'string' },
    project: { type: 'string' },
    description: { type: 'string' },
    tag: { type: 'string', multiple: true },
    'run-untagged': { type: 'string' },
    locked: { type: 'string' },
    paused: { type: 'string' },
    'maximum-timeout': { type: 'string' },
    'access-level': { type: 'string' },
    'maintenance-note': { type: 'string' },
    'dry-run': { type: 'boolean' },
    'runner-token-kms-key': { type: 'string' },
    'gitlab-url': { type: 'string' },
    region: { type: 'string' },
  },
  async run(flags, context) {
    const problems: string[] = [];
    const settings = await collectInputProblems(loadRunnerSettings(flags), problems);
    const parameterFlag = asString(flags['runner-token-parameter']);
    const stackName = asString(flags['stack-name']);
    const parameterProblem = tokenParameterProblem(parameterFlag);
    if (parameterProblem) problems.push(parameterProblem);
    if (!parameterFlag && !stackName) {
      problems.push('pass --runner-token-parameter NAME (or --stack-name of a fleet that has one)');
    }
    const apiToken = gitlabTokenFromEnv(context.env);
    if (!apiToken) {
      problems.push(
        'RUNNER_FLEET_GITLAB_TOKEN is not set: create-runner needs an access token with the create_runner scope',
      );
    }
    const apiUrl = gitlabApiUrl(asString(flags['gitlab-url']), context.env);
    if (!apiUrl) problems.push('no GitLab URL: pass --gitlab-url or set CI_SERVER_URL');
    const cloudFormation = cloudFormationClient(regionOption(flags));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0 || !settings || !apiToken || !apiUrl) throw new InputError(problems);

    const parameterName = await tokenParameterName(cloudFormation, parameterFlag, stackName);
    const kmsKeyId = asString(flags['runner-token-kms-key']);
    await createRunner(
      {
        parameterName,
        settings,
        dryRun: flags['dry-run'] === true,
        ...(kmsKeyId ? { kmsKeyId } : {}),
        ...(stackName ? { stackName } : {}),
      },
      {
        ssm: await ssmClient(regionOption(flags)),
        gitlab: createGitLabClient({ apiUrl, token: apiToken }),
        log: context.log,
      },
    );
  },
};
