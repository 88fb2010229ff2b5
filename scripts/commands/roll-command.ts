/** Flags and wiring of `runner-fleet roll`; the flow is in roll.ts. */
import {
  autoScalingClient,
  awsSetupProblems,
  cloudFormationClient,
  ec2Client,
  ssmClient,
} from '../aws/clients.ts';
import { instanceRefreshApi } from '../aws/instance-refresh.ts';
import { checkWritableFile, parseIntegerFlag, parsePositiveInteger } from '../config/deploy-config.ts';
import {
  gitlabApiUrl,
  gitlabUrlProblems,
  optionalGitLabAccess,
  runnerTokenFromEnv,
} from '../config/gitlab-access.ts';
import { refuseOwnFleet } from '../config/own-fleet.ts';
import { InputError } from '../errors.ts';
import { latestRunnerRelease, RUNNER_LATEST_RELEASE_URL } from '../gitlab/runner-releases.ts';
import { findManagerForInstance, fleetRunnerId, fleetRunnerIdFor, listManagers } from '../gitlab/runners.ts';
import { asString, type CommandSpec, regionOption, runnerIdOption, stackNameOption } from './command-spec.ts';
import { roll } from './roll.ts';
import { smokeTest } from './smoke-test.ts';

export const rollCommand: CommandSpec = {
  name: 'roll',
  usage: `runner-fleet roll --stack-name NAME [options]

  --stack-name NAME                 the fleet stack
  --region REGION                   AWS region (default: AWS_REGION)
  --dry-run                         print what is out of date and stop
  --force                           refresh every instance even if nothing looks out of date
  --min-healthy-percentage N        capacity kept in service during the refresh (default 100)
  --max-healthy-percentage N        capacity allowed above desired, 100-200 (default 200:
                                    launch the replacement before terminating)
  --instance-warmup SECONDS         time a new instance needs before it counts as healthy
  --checkpoint-percentages LIST     pause points, e.g. 50,100
  --no-auto-rollback                keep new instances when the refresh fails
  --wait-minutes N                  longest wait for the refresh (default 120)
  --timeout-minutes N               longest wait for the stack update (default 60)
  --runner-id N                     the fleet's GitLab runner (or RUNNER_FLEET_RUNNER_TOKEN)
  --gitlab-url URL                  GitLab (default: CI_API_V4_URL / CI_SERVER_URL)
  --junit FILE                      JUnit report of the smoke test that ends a roll
  --runner-releases-url URL         where to read the latest gitlab-runner release
                                    (default ${RUNNER_LATEST_RELEASE_URL})
  --allow-own-fleet                 roll even when this GitLab job runs on the fleet's own
                                    runner (CI_RUNNER_ID / CI_RUNNER_DESCRIPTION); refused otherwise

Out of date means: the AMI behind the stack's SSM parameter moved (the stack is
updated first), instances run an older launch template version, or (with
RUNNER_FLEET_GITLAB_TOKEN) runner managers report another gitlab-runner version.
Every replaced instance drains its jobs through the terminate lifecycle hook.
With a GitLab token, a roll ends with runner-fleet smoke-test.`,
  options: {
    'stack-name': { type: 'string' },
    region: { type: 'string' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    'min-healthy-percentage': { type: 'string' },
    'max-healthy-percentage': { type: 'string' },
    'instance-warmup': { type: 'string' },
    'checkpoint-percentages': { type: 'string' },
    'no-auto-rollback': { type: 'boolean' },
    'wait-minutes': { type: 'string' },
    'timeout-minutes': { type: 'string' },
    'runner-id': { type: 'string' },
    'gitlab-url': { type: 'string' },
    'runner-releases-url': { type: 'string' },
    junit: { type: 'string' },
    'allow-own-fleet': { type: 'boolean' },
  },
  async run(flags, context) {
    const problems: string[] = [];
    const stackName = stackNameOption(flags, problems);
    const minHealthy = parseIntegerFlag(
      '--min-healthy-percentage',
      asString(flags['min-healthy-percentage']),
      100,
      problems,
      { min: 0, max: 100 },
    );
    const maxHealthy = parseIntegerFlag(
      '--max-healthy-percentage',
      asString(flags['max-healthy-percentage']),
      200,
      problems,
      { min: 100, max: 200 },
    );
    if (maxHealthy - minHealthy > 100) {
      problems.push(
        '--max-healthy-percentage minus --min-healthy-percentage may be at most 100 (an AWS rule)',
      );
    }
    const warmupRaw = asString(flags['instance-warmup']);
    const instanceWarmupSeconds =
      warmupRaw === undefined
        ? undefined
        : parsePositiveInteger('--instance-warmup', warmupRaw, 300, problems);
    const checkpoints = (asString(flags['checkpoint-percentages']) ?? '')
      .split(',')
      .filter((item) => item.trim() !== '')
      .map((item) => Number(item.trim()));
    if (
      checkpoints.some((n) => !Number.isInteger(n) || n < 1 || n > 100) ||
      !isAscending(checkpoints) ||
      (checkpoints.length > 0 && checkpoints.at(-1) !== 100)
    ) {
      // A list that stops short of 100 makes AWS report success with part of the fleet not replaced.
      problems.push(
        'invalid --checkpoint-percentages: give rising whole numbers from 1 to 100 ending with 100, e.g. 50,100',
      );
    }
    if (minHealthy === 100 && maxHealthy === 100) {
      problems.push(
        '--min-healthy-percentage 100 with --max-healthy-percentage 100 leaves no room to replace an instance: raise the maximum',
      );
    }
    const waitMinutes = parsePositiveInteger(
      '--wait-minutes',
      asString(flags['wait-minutes']),
      120,
      problems,
    );
    const timeoutMinutes = parsePositiveInteger(
      '--timeout-minutes',
      asString(flags['timeout-minutes']),
      60,
      problems,
    );
    const runnerIdFlag = runnerIdOption(flags, problems);
    problems.push(...gitlabUrlProblems(asString(flags['gitlab-url']), context.env));
    problems.push(...(await checkWritableFile('--junit', asString(flags.junit))));

    const cloudFormation = cloudFormationClient(regionOption(flags));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0 || !stackName) throw new InputError(problems);

    const gitlab = optionalGitLabAccess(asString(flags['gitlab-url']), context.env);
    const runnerToken = runnerTokenFromEnv(context.env);
    await refuseOwnFleet({
      verb: 'roll',
      stackName,
      allowOwnFleet: flags['allow-own-fleet'] === true,
      env: context.env,
      log: context.log,
      fleetRunnerId: () =>
        fleetRunnerIdFor({
          runnerIdFlag,
          runnerToken,
          apiUrl: gitlabApiUrl(asString(flags['gitlab-url']), context.env),
        }),
    });
    const autoScaling = await autoScalingClient(regionOption(flags));
    const outcome = await roll(
      {
        stackName,
        dryRun: flags['dry-run'] === true,
        force: flags.force === true,
        minHealthyPercentage: minHealthy,
        maxHealthyPercentage: maxHealthy,
        instanceWarmupSeconds,
        checkpointPercentages: checkpoints,
        autoRollback: flags['no-auto-rollback'] !== true,
        waitMinutes,
        timeoutMinutes,
      },
      {
        cloudFormation,
        autoScaling,
        ssm: await ssmClient(regionOption(flags)),
        refresh: instanceRefreshApi(autoScaling),
        log: context.log,
        signal: context.signal,
        latestRunnerVersion: () => latestRunnerRelease(asString(flags['runner-releases-url'])),
        async instanceRunnerVersions(instanceIds) {
          if (!gitlab) return undefined;
          const runnerId = await fleetRunnerId(gitlab.client, runnerIdFlag, runnerToken);
          if (runnerId === undefined) return undefined;
          const managers = await listManagers(gitlab.client, runnerId);
          const versions = new Map<string, string>();
          for (const instanceId of instanceIds) {
            const version = findManagerForInstance(managers, instanceId)?.version;
            if (version) versions.set(instanceId, version);
          }
          return versions;
        },
      },
    );

    // A roll ends by proving the new instances registered and take jobs, when GitLab can be asked.
    if (outcome === 'rolled' && gitlab && (runnerIdFlag !== undefined || runnerToken)) {
      const junitFile = asString(flags.junit);
      await smokeTest(
        {
          stackName,
          ...(runnerIdFlag !== undefined ? { runnerId: runnerIdFlag } : {}),
          ...(runnerToken ? { runnerToken } : {}),
          gitlabUrl: gitlab.apiUrl.replace(/\/api\/v4$/, ''),
          waitMinutes: SMOKE_TEST_WAIT_MINUTES,
          ...(junitFile ? { junitFile } : {}),
        },
        {
          cloudFormation,
          autoScaling,
          ec2: await ec2Client(regionOption(flags)),
          gitlab: () => gitlab.client,
          log: context.log,
          signal: context.signal,
        },
      );
    } else if (outcome === 'rolled') {
      context.log.info(
        'Smoke test skipped: set RUNNER_FLEET_GITLAB_TOKEN and --runner-id or RUNNER_FLEET_RUNNER_TOKEN to check the new runners',
      );
    }
  },
};

/** After a refresh the instances are up; registering takes a few minutes more at most. */
const SMOKE_TEST_WAIT_MINUTES = 20;

function isAscending(values: readonly number[]): boolean {
  return values.every((value, index) => index === 0 || value > (values[index - 1] ?? 0));
}
