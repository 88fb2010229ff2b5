/** Flags and wiring of `runner-fleet reconcile`; the flow is in reconcile.ts. */
import { autoScalingClient, awsSetupProblems, cloudFormationClient, ssmClient } from '../aws/clients.ts';
import { gitlabApiUrl, gitlabTokenFromEnv, runnerTokenFromEnv } from '../config/gitlab-access.ts';
import { InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { asString, type CommandSpec, type FlagValues, regionOption, runnerIdOption } from './command-spec.ts';
import { reconcile } from './reconcile.ts';

export const reconcileCommand: CommandSpec = {
  name: 'reconcile',
  usage: `runner-fleet reconcile --stack-name NAME (--dry-run | --apply) [options]

  --stack-name NAME     the fleet stack
  --dry-run             only print the table of what would be done
  --apply               delete the managers of gone or terminated instances
  --replace-broken      with --apply: mark InService instances whose runner
                        manager is offline or stale unhealthy, so the group replaces them
  --runner-id N         the fleet's runner (default: recorded on the token parameter
                        by create-runner, else resolved from the runner token)
  --gitlab-url URL      GitLab (default: CI_API_V4_URL / CI_SERVER_URL)
  --region REGION       AWS region (default: AWS_REGION)

In a terminal the default is --dry-run. Without a terminal (CI, cron) one of
--dry-run and --apply must be given: a scheduled job should neither delete
without being told to nor quietly do nothing.

Only managers whose system_id is one the fleet derives from an instance id
(s_ + 12 hex) are ever deleted; a manager of another host using the same token
is listed and left alone.

Environment:
  RUNNER_FLEET_GITLAB_TOKEN   access token that can read the runner's managers
  RUNNER_FLEET_RUNNER_TOKEN   the glrt- token, to delete managers (default: read
                              from the stack's RunnerTokenParameterName in SSM)`,
  options: {
    'stack-name': { type: 'string' },
    'dry-run': { type: 'boolean' },
    apply: { type: 'boolean' },
    'replace-broken': { type: 'boolean' },
    'runner-id': { type: 'string' },
    'gitlab-url': { type: 'string' },
    region: { type: 'string' },
  },
  async run(flags, context) {
    const problems: string[] = [];
    const stackName = asString(flags['stack-name']);
    if (!stackName) problems.push('missing --stack-name NAME');
    const apply = reconcileMode(flags, process.stdout.isTTY === true, problems);
    const runnerId = runnerIdOption(flags, problems);
    const apiToken = gitlabTokenFromEnv(context.env);
    if (!apiToken) {
      problems.push(
        'RUNNER_FLEET_GITLAB_TOKEN is not set: reconcile reads the runner managers with an API token',
      );
    }
    const apiUrl = gitlabApiUrl(asString(flags['gitlab-url']), context.env);
    if (!apiUrl) problems.push('no GitLab URL: pass --gitlab-url or set CI_SERVER_URL');
    const cloudFormation = cloudFormationClient(regionOption(flags));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0 || !stackName || !apiToken || !apiUrl || apply === undefined) {
      throw new InputError(problems);
    }
    const runnerToken = runnerTokenFromEnv(context.env);
    await reconcile(
      {
        stackName,
        apply,
        replaceBroken: flags['replace-broken'] === true,
        ...(runnerId !== undefined ? { runnerId } : {}),
        ...(runnerToken ? { runnerToken } : {}),
      },
      {
        cloudFormation,
        autoScaling: await autoScalingClient(regionOption(flags)),
        ssm: () => ssmClient(regionOption(flags)),
        api: createGitLabClient({ apiUrl, token: apiToken }),
        runnerApi: createGitLabClient({ apiUrl, token: '' }),
        log: context.log,
      },
    );
  },
};

/**
 * true = apply, false = dry run; undefined with a problem recorded. A terminal
 * defaults to a dry run; anything else must say which it wants.
 */
export function reconcileMode(
  flags: FlagValues,
  isTerminal: boolean,
  problems: string[],
): boolean | undefined {
  const apply = flags.apply === true;
  const dryRun = flags['dry-run'] === true;
  if (apply && dryRun) {
    problems.push('give one of --apply and --dry-run, not both');
    return undefined;
  }
  if (apply) return true;
  if (dryRun || isTerminal) return false;
  problems.push(
    'reconcile without a terminal needs --apply (delete stale managers) or --dry-run (only report): a scheduled job must say which',
  );
  return undefined;
}
