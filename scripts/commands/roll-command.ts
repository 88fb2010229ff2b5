/** Inputs and wiring of `runner-fleet roll`; the flow is in roll.ts, the smoke test that ends it in smoke-test.ts. */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { SSMClient } from '@aws-sdk/client-ssm';
import {
  autoScalingClient,
  awsSetupProblems,
  cloudFormationClient,
  ec2Client,
  ssmClient,
} from '../aws/clients.ts';
import { describeStack } from '../aws/cloudformation.ts';
import { instanceRefreshApi } from '../aws/instance-refresh.ts';
import {
  allowOwnFleet,
  gitlabUrl,
  junit,
  minutes,
  region,
  runnerIdFromJob,
  stackName,
} from '../cli-input/common-flags.ts';
import { type GitLabAccess, gitlabApiUrl, optionalGitLabAccess } from '../config/gitlab-access.ts';
import { refuseOwnFleet } from '../config/own-fleet.ts';
import { InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { latestRunnerRelease, RUNNER_LATEST_RELEASE_URL } from '../gitlab/runner-releases.ts';
import { managerVersionsByInstance } from '../gitlab/runners.ts';
import { type CommandContext, defineCommand, regionOption } from './command-spec.ts';
import { type FleetRunner, fleetRunnerOnce, NO_FLEET_RUNNER_HINT } from './fleet-runner.ts';
import { roll } from './roll.ts';
import { smokeTest } from './smoke-test.ts';

/** The flags of roll, exported for the tests of what the roll component sets. */
export const rollFlags = {
  'stack-name': stackName,
  region,
  'dry-run': { type: 'switch', env: ['RUNNER_FLEET_DRY_RUN'], help: 'print what is out of date and stop' },
  force: { type: 'switch', help: 'refresh every instance even if nothing looks out of date' },
  'min-healthy-percentage': {
    type: 'integer',
    placeholder: 'N',
    min: 0,
    max: 100,
    default: 100,
    env: ['RUNNER_FLEET_MIN_HEALTHY_PERCENTAGE'],
    help: 'capacity kept in service during the refresh',
  },
  'max-healthy-percentage': {
    type: 'integer',
    placeholder: 'N',
    min: 100,
    max: 200,
    default: 200,
    env: ['RUNNER_FLEET_MAX_HEALTHY_PERCENTAGE'],
    help: 'capacity allowed above desired; 200 launches the replacement before terminating',
  },
  'instance-warmup': {
    type: 'integer',
    placeholder: 'SECONDS',
    min: 1,
    help: 'time a new instance needs before it counts as healthy',
  },
  'checkpoint-percentages': {
    type: 'parsed',
    placeholder: 'LIST',
    parse: parseCheckpoints,
    env: ['RUNNER_FLEET_CHECKPOINT_PERCENTAGES'],
    help: 'pause points: rising whole numbers ending with 100, e.g. 50,100',
  },
  'no-auto-rollback': {
    type: 'switch',
    envFalse: ['RUNNER_FLEET_AUTO_ROLLBACK'],
    help: 'keep new instances when the refresh fails',
  },
  'wait-minutes': minutes(120, 'longest wait for the refresh', ['RUNNER_FLEET_WAIT_MINUTES']),
  'timeout-minutes': minutes(60, 'longest wait for the stack update'),
  'runner-id': runnerIdFromJob,
  'gitlab-url': gitlabUrl,
  junit: { ...junit, help: 'JUnit report of the smoke test that ends a roll' },
  'runner-releases-url': {
    type: 'text',
    placeholder: 'URL',
    help: `where to read the latest gitlab-runner release (default ${RUNNER_LATEST_RELEASE_URL})`,
  },
  'allow-own-fleet': allowOwnFleet,
} as const;

export const rollCommand = defineCommand({
  name: 'roll',
  synopsis: 'runner-fleet roll --stack-name NAME [options]',
  flags: rollFlags,
  environment: {
    RUNNER_FLEET_GITLAB_TOKEN: {
      help: "optional: with it, runner managers' versions count as out of date too, and a roll ends with runner-fleet smoke-test",
    },
    RUNNER_FLEET_RUNNER_TOKEN: {
      help: "the fleet's glrt- runner token, when --runner-id is not given (else the id create-runner recorded is used)",
    },
  },
  notes: `Out of date means: the AMI behind the stack's SSM parameter moved (the stack is
updated first), instances run an older launch template version, or (with
RUNNER_FLEET_GITLAB_TOKEN) runner managers report another gitlab-runner version.
Every replaced instance drains its jobs through the terminate lifecycle hook.`,
  checks: [
    ({ flags }) =>
      flags['max-healthy-percentage'] - flags['min-healthy-percentage'] > 100
        ? '--max-healthy-percentage minus --min-healthy-percentage may be at most 100 (an AWS rule)'
        : undefined,
    ({ flags }) =>
      flags['min-healthy-percentage'] === 100 && flags['max-healthy-percentage'] === 100
        ? '--min-healthy-percentage 100 with --max-healthy-percentage 100 leaves no room to replace an instance: raise the maximum'
        : undefined,
  ],
  async run({ flags, env, problems }, context) {
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0) throw new InputError(problems);

    const stack = flags['stack-name'];
    const gitlab = optionalGitLabAccess(flags['gitlab-url'], context.env);
    const apiUrl = gitlabApiUrl(flags['gitlab-url']);
    const ssm = await ssmClient(regionOption(flags.region));
    // One lookup for the own-fleet check, the version check and the smoke test.
    const fleetRunner = fleetRunnerOnce({
      runnerIdFlag: flags['runner-id'],
      runnerToken: env.RUNNER_FLEET_RUNNER_TOKEN,
      // POST /runners/verify needs no API token, so the own-fleet check works without one.
      gitlab: gitlab?.client ?? (apiUrl ? createGitLabClient({ apiUrl, token: '' }) : undefined),
      stack: () => describeStack(cloudFormation, stack),
      ssm: async () => ssm,
      log: context.log,
    });
    await refuseOwnFleet({
      verb: 'roll',
      stackName: stack,
      allowOwnFleet: flags['allow-own-fleet'],
      env: context.env,
      log: context.log,
      fleetRunnerId: async () => (await fleetRunner())?.id,
    });
    const autoScaling = await autoScalingClient(regionOption(flags.region));
    const outcome = await roll(
      {
        stackName: stack,
        dryRun: flags['dry-run'],
        force: flags.force,
        minHealthyPercentage: flags['min-healthy-percentage'],
        maxHealthyPercentage: flags['max-healthy-percentage'],
        instanceWarmupSeconds: flags['instance-warmup'],
        checkpointPercentages: flags['checkpoint-percentages'] ?? [],
        autoRollback: !flags['no-auto-rollback'],
        waitMinutes: flags['wait-minutes'],
        timeoutMinutes: flags['timeout-minutes'],
      },
      {
        cloudFormation,
        autoScaling,
        ssm,
        refresh: instanceRefreshApi(autoScaling),
        log: context.log,
        signal: context.signal,
        latestRunnerVersion: () => latestRunnerRelease(flags['runner-releases-url']),
        async instanceRunnerVersions(instanceIds) {
          if (!gitlab) return undefined;
          const runner = await fleetRunner();
          return runner === undefined
            ? undefined
            : managerVersionsByInstance(gitlab.client, runner.id, instanceIds);
        },
      },
    );
    if (outcome === 'rolled') {
      await smokeTestAfterRoll(
        { stackName: stack, fleetRunner, junitFile: flags.junit, gitlab },
        { cloudFormation, autoScaling, ssm, region: flags.region },
        context,
      );
    }
  },
});

/** After a refresh the instances are up; registering takes a few minutes more at most. */
const SMOKE_TEST_WAIT_MINUTES = 20;

/**
 * A roll ends by proving the new instances registered and take jobs, when
 * GitLab can be asked: with an API token and the fleet's runner known (its
 * id, the runner token, or the id create-runner recorded).
 */
async function smokeTestAfterRoll(
  fleet: {
    stackName: string;
    fleetRunner: () => Promise<FleetRunner | undefined>;
    junitFile: string | undefined;
    gitlab: GitLabAccess | undefined;
  },
  aws: {
    cloudFormation: CloudFormationClient;
    autoScaling: AutoScalingClient;
    ssm: SSMClient;
    region: string | undefined;
  },
  context: CommandContext,
): Promise<void> {
  const { gitlab, junitFile } = fleet;
  if (!gitlab) {
    context.log.info('Smoke test skipped: set RUNNER_FLEET_GITLAB_TOKEN to check the new runners');
    return;
  }
  if (!(await fleet.fleetRunner())) {
    context.log.info(`Smoke test skipped: the fleet's runner is unknown; ${NO_FLEET_RUNNER_HINT}`);
    return;
  }
  await smokeTest(
    {
      stackName: fleet.stackName,
      gitlabUrl: gitlab.apiUrl.replace(/\/api\/v4$/, ''),
      waitMinutes: SMOKE_TEST_WAIT_MINUTES,
      ...(junitFile ? { junitFile } : {}),
    },
    {
      cloudFormation: aws.cloudFormation,
      autoScaling: aws.autoScaling,
      ec2: await ec2Client(regionOption(aws.region)),
      gitlab: () => gitlab.client,
      ssm: async () => aws.ssm,
      fleetRunner: fleet.fleetRunner,
      log: context.log,
      signal: context.signal,
    },
  );
}

/** --checkpoint-percentages: rising whole numbers from 1 to 100, ending with 100. */
function parseCheckpoints(raw: string, source: string): { value: number[] } | { problem: string } {
  const checkpoints = raw
    .split(',')
    .filter((item) => item.trim() !== '')
    .map((item) => Number(item.trim()));
  const valid =
    checkpoints.every(
      (n, index) => Number.isInteger(n) && n >= 1 && n <= 100 && n > (checkpoints[index - 1] ?? 0),
    ) &&
    (checkpoints.length === 0 || checkpoints.at(-1) === 100);
  // A list that stops short of 100 makes AWS report success with part of the fleet not replaced.
  return valid
    ? { value: checkpoints }
    : {
        problem: `invalid ${source} ${raw}: give rising whole numbers from 1 to 100 ending with 100, e.g. 50,100`,
      };
}
