/**
 * Flags, help and input checks of `runner-fleet smoke-test`; every input
 * problem is collected and reported at once (exit 2) before any wait starts.
 */
import { autoScalingClient, awsSetupProblems, cloudFormationClient, ec2Client } from '../aws/clients.ts';
import { checkWritableFile, parseIntegerFlag, parsePositiveInteger } from '../config/deploy-config.ts';
import { gitlabTokenFromEnv, runnerTokenFromEnv } from '../config/gitlab-access.ts';
import { InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { CANARY_VARIABLE } from '../smoke-test/evaluate.ts';
import {
  asString,
  type CommandSpec,
  type FlagValues,
  regionOption,
  runnerIdOption,
  stackNameOption,
} from './command-spec.ts';
import { type CanaryOptions, smokeTest } from './smoke-test.ts';

const DEFAULT_WAIT_MINUTES = 20;
const DEFAULT_CANARY_WAIT_MINUTES = 15;
const VERSION = /^v?\d+\.\d+\.\d+$/;

export const smokeTestCommand: CommandSpec = {
  name: 'smoke-test',
  usage: `runner-fleet smoke-test --stack-name NAME [options]

  --stack-name NAME          the fleet stack
  --runner-id N              the fleet's GitLab runner id (else resolved from
                             RUNNER_FLEET_RUNNER_TOKEN through POST /runners/verify)
  --expected-version V       gitlab-runner version every manager must run
                             (default: the stack parameter RunnerVersion unless "latest")
  --wait-minutes N           longest wait for capacity and runner managers (default ${DEFAULT_WAIT_MINUTES})
  --canary-ref REF           also run a canary pipeline on REF (its job runs when ${CANARY_VARIABLE}=1)
  --canary-project ID|PATH   project of the canary pipeline (default: CI_PROJECT_ID)
  --canary-wait-minutes N    longest wait for the canary pipeline (default ${DEFAULT_CANARY_WAIT_MINUTES})
  --junit FILE               write a JUnit report (one test case per check)
  --token-expiry-days N      fail when the runner token expires within N days
  --gitlab-url URL           GitLab instance (default: CI_SERVER_URL, else the stack parameter GitLabUrl)
  --region REGION            AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)

Environment (never flags, so they stay out of process lists and job logs):
  RUNNER_FLEET_GITLAB_TOKEN   API token that can read the runner (read_api; Maintainer or Owner)
  RUNNER_FLEET_RUNNER_TOKEN   the fleet's glrt- runner token, when --runner-id is not given
  RUNNER_FLEET_TRIGGER_TOKEN  pipeline trigger token for the canary (else the API token creates it)`,
  options: {
    'stack-name': { type: 'string' },
    'runner-id': { type: 'string' },
    'expected-version': { type: 'string' },
    'wait-minutes': { type: 'string' },
    'canary-ref': { type: 'string' },
    'canary-project': { type: 'string' },
    'canary-wait-minutes': { type: 'string' },
    junit: { type: 'string' },
    'token-expiry-days': { type: 'string' },
    'gitlab-url': { type: 'string' },
    region: { type: 'string' },
  },
  async run(flags, context) {
    const { env } = context;
    const problems: string[] = [];
    const stackName = stackNameOption(flags, problems);

    const runnerId = runnerIdOption(flags, problems);
    const runnerToken = runnerTokenFromEnv(env);
    if (flags['runner-id'] === undefined && !runnerToken) {
      problems.push('no runner: pass --runner-id or set RUNNER_FLEET_RUNNER_TOKEN to the fleet runner token');
    }
    const apiToken = gitlabTokenFromEnv(env);
    if (!apiToken) {
      problems.push(
        'RUNNER_FLEET_GITLAB_TOKEN is not set: smoke-test reads runner managers with an API token',
      );
    }

    const expectedVersion = asString(flags['expected-version']);
    if (expectedVersion !== undefined && !VERSION.test(expectedVersion)) {
      problems.push(`invalid --expected-version ${expectedVersion}: expected a version such as 17.11.1`);
    }
    const waitMinutes = parsePositiveInteger(
      '--wait-minutes',
      asString(flags['wait-minutes']),
      DEFAULT_WAIT_MINUTES,
      problems,
    );

    const rawExpiryDays = asString(flags['token-expiry-days']);
    const tokenExpiryDays = parseIntegerFlag('--token-expiry-days', rawExpiryDays, 0, problems, {
      min: 0,
      max: 3650,
    });
    const gitlabUrl = asString(flags['gitlab-url']) ?? (env.CI_SERVER_URL?.trim() || undefined);
    if (gitlabUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(gitlabUrl)) {
      problems.push(`invalid GitLab URL ${gitlabUrl}: expected https://host`);
    }

    const canary = canaryOptions(flags, env, problems);
    const junitFile = asString(flags.junit);
    problems.push(...(await checkWritableFile('--junit', junitFile)));

    const cloudFormation = cloudFormationClient(regionOption(flags));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0 || !stackName || !apiToken) throw new InputError(problems);

    await smokeTest(
      {
        stackName,
        ...(runnerId !== undefined ? { runnerId } : {}),
        ...(runnerToken ? { runnerToken } : {}),
        ...(expectedVersion ? { expectedVersion } : {}),
        ...(gitlabUrl ? { gitlabUrl } : {}),
        waitMinutes,
        ...(canary ? { canary } : {}),
        ...(junitFile ? { junitFile } : {}),
        ...(rawExpiryDays !== undefined ? { tokenExpiryDays } : {}),
      },
      {
        cloudFormation,
        autoScaling: await autoScalingClient(regionOption(flags)),
        ec2: await ec2Client(regionOption(flags)),
        gitlab: (apiUrl) => createGitLabClient({ apiUrl, token: apiToken }),
        log: context.log,
        signal: context.signal,
      },
    );
  },
};

function canaryOptions(
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
  problems: string[],
): CanaryOptions | undefined {
  const ref = asString(flags['canary-ref']);
  const project = asString(flags['canary-project']) ?? (env.CI_PROJECT_ID?.trim() || undefined);
  const waitMinutes = parsePositiveInteger(
    '--canary-wait-minutes',
    asString(flags['canary-wait-minutes']),
    DEFAULT_CANARY_WAIT_MINUTES,
    problems,
  );
  if (!ref) {
    if (asString(flags['canary-project']) !== undefined) problems.push('--canary-project needs --canary-ref');
    return undefined;
  }
  if (!project) {
    problems.push(
      '--canary-ref needs the project of the canary pipeline: pass --canary-project or set CI_PROJECT_ID',
    );
    return undefined;
  }
  const triggerToken = env.RUNNER_FLEET_TRIGGER_TOKEN?.trim() || undefined;
  return { ref, project, waitMinutes, ...(triggerToken ? { triggerToken } : {}) };
}
