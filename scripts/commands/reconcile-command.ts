/** Inputs and wiring of `runner-fleet reconcile`; the flow is in reconcile.ts. */
import { autoScalingClient, awsSetupProblems, cloudFormationClient, ssmClient } from '../aws/clients.ts';
import {
  gitlabUrl,
  gitlabUrlRequired,
  region,
  runnerIdFromJob,
  stackName,
} from '../cli-input/common-flags.ts';
import { gitlabApiUrl } from '../config/gitlab-access.ts';
import { InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { defineCommand, regionOption } from './command-spec.ts';
import { reconcile } from './reconcile.ts';

/** The flags of reconcile, exported for the tests of what the reconcile component sets. */
export const reconcileFlags = {
  'stack-name': stackName,
  // The reconcile job's apply input, or the roll job's dry_run input (its reconcile step follows the roll's mode).
  'dry-run': {
    type: 'switch',
    env: ['RUNNER_FLEET_DRY_RUN'],
    envFalse: ['RUNNER_FLEET_APPLY'],
    help: 'only print the table of what would be done',
  },
  apply: {
    type: 'switch',
    env: ['RUNNER_FLEET_APPLY'],
    envFalse: ['RUNNER_FLEET_DRY_RUN'],
    help: 'delete the managers of gone or terminated instances',
  },
  'replace-broken': {
    type: 'switch',
    env: ['RUNNER_FLEET_REPLACE_BROKEN'],
    help: 'with --apply: mark InService instances whose runner manager is offline or stale unhealthy, so the group replaces them',
  },
  'runner-id': {
    ...runnerIdFromJob,
    help: "the fleet's runner (default: recorded on the token parameter by create-runner, else resolved from the runner token)",
  },
  'gitlab-url': gitlabUrl,
  region,
} as const;

export const reconcileCommand = defineCommand({
  name: 'reconcile',
  synopsis: 'runner-fleet reconcile --stack-name NAME (--dry-run | --apply) [options]',
  flags: reconcileFlags,
  environment: {
    RUNNER_FLEET_GITLAB_TOKEN: {
      help: "access token that can read the runner's managers",
      required: 'RUNNER_FLEET_GITLAB_TOKEN is not set: reconcile reads the runner managers with an API token',
    },
    RUNNER_FLEET_RUNNER_TOKEN: {
      help: "the glrt- token, to delete managers (default: read from the stack's RunnerTokenParameterName in SSM)",
    },
  },
  notes: `In a terminal the default is --dry-run. Without a terminal (CI, cron) one of
--dry-run and --apply must be given: a scheduled job should neither delete
without being told to nor quietly do nothing.

Only managers whose system_id is one the fleet derives from an instance id
(s_ + 12 hex) are ever deleted; a manager of another host using the same token
is listed and left alone.`,
  checks: [gitlabUrlRequired, ({ flags }) => reconcileModeProblem(flags, process.stdout.isTTY === true)],
  async run({ flags, env, problems }, context) {
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    const apiToken = env.RUNNER_FLEET_GITLAB_TOKEN;
    const apiUrl = gitlabApiUrl(flags['gitlab-url']);
    if (problems.length > 0 || !apiToken || !apiUrl) throw new InputError(problems);
    const runnerToken = env.RUNNER_FLEET_RUNNER_TOKEN;
    await reconcile(
      {
        stackName: flags['stack-name'],
        apply: flags.apply,
        replaceBroken: flags['replace-broken'],
        ...(flags['runner-id'] !== undefined ? { runnerId: flags['runner-id'] } : {}),
        ...(runnerToken ? { runnerToken } : {}),
      },
      {
        cloudFormation,
        autoScaling: await autoScalingClient(regionOption(flags.region)),
        ssm: () => ssmClient(regionOption(flags.region)),
        api: createGitLabClient({ apiUrl, token: apiToken }),
        runnerApi: createGitLabClient({ apiUrl, token: '' }),
        log: context.log,
      },
    );
  },
});

/**
 * --apply or --dry-run, one of them: a terminal defaults to a dry run;
 * anything else must say which it wants. The problem, or undefined.
 */
export function reconcileModeProblem(
  flags: { apply: boolean; 'dry-run': boolean },
  isTerminal: boolean,
): string | undefined {
  if (flags.apply && flags['dry-run']) return 'give one of --apply and --dry-run, not both';
  if (flags.apply || flags['dry-run'] || isTerminal) return undefined;
  return 'reconcile without a terminal needs --apply (delete stale managers) or --dry-run (only report): a scheduled job must say which';
}
