/** Inputs and wiring of `runner-fleet create-runner`; the flow is in create-runner.ts. */
import { awsSetupProblems, cloudFormationClient, ssmClient } from '../aws/clients.ts';
import {
  gitlabUrl,
  gitlabUrlRequired,
  optionalStackName,
  region,
  runnerTokenKmsKey,
} from '../cli-input/common-flags.ts';
import { gitlabApiUrl } from '../config/gitlab-access.ts';
import { collectInputProblems, InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { ACCESS_LEVELS, RUNNER_TYPES } from '../gitlab/runner-admin.ts';
import { defineCommand, regionOption } from './command-spec.ts';
import { createRunner } from './create-runner.ts';
import { loadRunnerSettings, TRUE_OR_FALSE } from './create-runner-settings.ts';
import { runnerTokenParameter, tokenParameterName, tokenParameterOrStack } from './runner-token-source.ts';

/** A runner setting given on the command line; checked with the settings file (create-runner-settings.ts). */
function setting(placeholder: string, help: string) {
  return { type: 'text', placeholder, help } as const;
}

/** A runner setting that is one of a few values, refused here when it is not; merged with the file all the same. */
function choice(placeholder: string, oneOf: readonly string[], help: string) {
  return { ...setting(placeholder, help), oneOf } as const;
}

/** What the deploy component sets from its runner_settings_file and runner_token_parameter inputs. */
const SETTINGS_FILE_ENV = 'RUNNER_FLEET_RUNNER_SETTINGS_FILE';
const TOKEN_PARAMETER_ENV = 'RUNNER_FLEET_RUNNER_TOKEN_PARAMETER';

export const createRunnerCommand = defineCommand({
  name: 'create-runner',
  synopsis: 'runner-fleet create-runner --runner-token-parameter NAME --settings FILE [options]',
  flags: {
    'runner-token-parameter': { ...runnerTokenParameter, env: [TOKEN_PARAMETER_ENV] },
    'stack-name': { ...optionalStackName, help: 'the fleet stack (names the parameter when it exists)' },
    settings: {
      ...setting(
        'FILE',
        'runner settings, YAML: runner_type, group, project, description, tag_list, run_untagged, locked, paused, maximum_timeout, access_level, maintenance_note',
      ),
      env: [SETTINGS_FILE_ENV],
    },
    'runner-type': choice('TYPE', RUNNER_TYPES, 'instance_type, group_type or project_type'),
    group: setting('ID|PATH', 'group of a group_type runner'),
    project: setting('ID|PATH', 'project of a project_type runner'),
    description: setting('TEXT', 'runner description'),
    tag: { type: 'texts', placeholder: 'TAG', help: 'a runner tag; replaces tag_list' },
    'run-untagged': choice('true|false', TRUE_OR_FALSE, 'take jobs without tags'),
    locked: choice('true|false', TRUE_OR_FALSE, 'project runners: locked to their projects'),
    paused: choice('true|false', TRUE_OR_FALSE, 'take no new jobs'),
    'maximum-timeout': setting('SECONDS', 'longest job timeout the runner allows (at least 600)'),
    'access-level': choice('LEVEL', ACCESS_LEVELS, 'not_protected or ref_protected'),
    'maintenance-note': setting('TEXT', 'free-form note shown in GitLab'),
    'dry-run': { type: 'switch', help: 'show what would be created or changed; change nothing' },
    'runner-token-kms-key': { ...runnerTokenKmsKey, env: ['RUNNER_FLEET_RUNNER_TOKEN_KMS_KEY'] },
    'gitlab-url': gitlabUrl,
    region,
  },
  environment: {
    RUNNER_FLEET_GITLAB_TOKEN: {
      help: 'access token with the create_runner scope (or api): Owner of the group, Maintainer of the project, or an administrator for instance runners',
      required:
        'RUNNER_FLEET_GITLAB_TOKEN is not set: create-runner needs an access token with the create_runner scope',
    },
  },
  notes: `The first run creates the runner (POST /user/runners) and writes its glrt-
token into the SSM parameter, tagged runner-fleet:runner-id with the runner's
id. Later runs find that tag and update the runner (PUT /runners/:id) instead
of creating another one. A parameter that already holds a working token
without that tag (stored by deploy --runner-token-from-env) is adopted: its
runner is tagged and updated, not replaced. Flags override the settings file.
The token is never printed, written to a file or passed on a command line.`,
  checks: [
    // The deploy component's settings name no stack parameter yet (the first deploy creates the stack): the job gives it.
    ({ flags, given }) =>
      !given.has('settings') && flags.settings && !flags['runner-token-parameter']
        ? `input runner_settings_file (${SETTINGS_FILE_ENV}) needs runner_token_parameter (${TOKEN_PARAMETER_ENV}, the SSM parameter for the token)`
        : undefined,
    tokenParameterOrStack,
    gitlabUrlRequired,
  ],
  async run({ flags, env, problems }, context) {
    const settings = await collectInputProblems(loadRunnerSettings(flags), problems);
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    const apiToken = env.RUNNER_FLEET_GITLAB_TOKEN;
    const apiUrl = gitlabApiUrl(flags['gitlab-url']);
    if (problems.length > 0 || !settings || !apiToken || !apiUrl) throw new InputError(problems);

    const stackName = flags['stack-name'];
    const parameterName = await tokenParameterName(
      cloudFormation,
      flags['runner-token-parameter'],
      stackName,
    );
    const kmsKeyId = flags['runner-token-kms-key'];
    await createRunner(
      {
        parameterName,
        settings,
        dryRun: flags['dry-run'],
        ...(kmsKeyId ? { kmsKeyId } : {}),
        ...(stackName ? { stackName } : {}),
      },
      {
        ssm: await ssmClient(regionOption(flags.region)),
        gitlab: createGitLabClient({ apiUrl, token: apiToken }),
        log: context.log,
      },
    );
  },
});
