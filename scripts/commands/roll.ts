/**
 * `runner-fleet roll`: the scheduled maintenance. Finds what is out of date
 * (AMI behind its SSM parameter, instances on an older launch template
 * version, runners older than the wanted release), updates the stack when the
 * AMI moved, then rolls the instances with an instance refresh that launches
 * before it terminates and lets every instance drain through its terminate
 * lifecycle hook. Orchestration only.
 */
import type {
  AutoScalingClient,
  AutoScalingGroup,
  DesiredConfiguration,
  InstanceRefresh,
  RefreshPreferences,
} from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { describeGroup, groupNameOfStack } from '../aws/auto-scaling.ts';
import { currentTemplateBody, describeStack, isInProgress } from '../aws/cloudformation.ts';
import { currentParameterValue, groupLaunchTemplate, instancesOnOtherVersions } from '../aws/fleet.ts';
import { activeRefresh, type InstanceRefreshApi, REFRESH_END_STATES } from '../aws/instance-refresh.ts';
import { parseTemplate } from '../config/template.ts';
import { InputError, InterruptedError, OperationError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type Clock, pollUntil, systemClock } from '../poll.ts';
import { deployTemplate } from '../stack/deploy-template.ts';

export interface RollOptions {
  stackName: string;
  dryRun: boolean;
  /** Refresh every instance even when nothing looks out of date. */
  force: boolean;
  minHealthyPercentage: number;
  maxHealthyPercentage: number;
  instanceWarmupSeconds: number | undefined;
  checkpointPercentages: number[];
  autoRollback: boolean;
  waitMinutes: number;
  timeoutMinutes: number;
}

export interface RollDependencies {
  cloudFormation: CloudFormationClient;
  autoScaling: AutoScalingClient;
  ssm: SSMClient;
  refresh: InstanceRefreshApi;
  log: Logger;
  clock?: Clock;
  signal?: AbortSignal;
  /** The newest gitlab-runner release, when RunnerVersion is "latest"; undefined when it cannot be known. */
  latestRunnerVersion: () => Promise<string | undefined>;
  /** Runner version per instance id, from GitLab; undefined without a GitLab token. */
  instanceRunnerVersions: (instanceIds: string[]) => Promise<Map<string, string> | undefined>;
}

export interface Staleness {
  amiUpdate: { from: string; to: string } | undefined;
  instancesOnOldTemplate: { instanceId: string; version: string }[];
  runnerOutdated: { instanceId: string; version: string }[];
  wantedRunnerVersion: string | undefined;
  notes: string[];
}

/** Instance refresh progress rarely moves faster than this; polling more often only spends API calls. */
const REFRESH_POLL_MAX_MS = 15_000;
const REFRESH_POLL_FIRST_MS = 2_000;

export async function roll(
  options: RollOptions,
  deps: RollDependencies,
): Promise<'up-to-date' | 'dry-run' | 'rolled'> {
  const { log } = deps;
  const clock = deps.clock ?? systemClock;
  const stack = await describeStack(deps.cloudFormation, options.stackName, deps.signal);
  if (!stack) throw new InputError(`stack ${options.stackName} does not exist: deploy it first`);
  if (isInProgress(stack.StackStatus)) {
    throw new OperationError(
      `stack ${options.stackName} is ${stack.StackStatus}; roll again when it has finished`,
    );
  }
  const groupName = await groupNameOfStack(deps.cloudFormation, stack, deps.signal);
  const group = await describeGroup(deps.autoScaling, groupName);
  if (!group)
    throw new OperationError(`Auto Scaling group ${groupName} of stack ${options.stackName} does not exist`);
  const running = activeRefresh(await deps.refresh.listRefreshes(groupName));

  const staleness = await findStaleness(stack, group, deps);
  report(log, options.stackName, groupName, staleness, running);

  if (running) {
    if (options.dryRun) return 'dry-run';
    log.info(
      `An instance refresh is already running (${running.InstanceRefreshId}); following it instead of starting another`,
    );
    await followRefresh(groupName, running.InstanceRefreshId ?? '', options, deps, clock);
    return 'rolled';
  }
  const needsRefresh =
    options.force ||
    staleness.amiUpdate !== undefined ||
    staleness.instancesOnOldTemplate.length > 0 ||
    staleness.runnerOutdated.length > 0;
  if (!needsRefresh) {
    log.info('Fleet is up to date: nothing to roll.');
    return 'up-to-date';
  }
  if (options.dryRun) {
    log.info('Dry run: stopping before any change.');
    return 'dry-run';
  }

  if (staleness.amiUpdate) {
    // Deploying the same template with every previous value makes CloudFormation
    // resolve the SSM parameter again, which writes a new launch template version.
    log.info(`Updating stack ${options.stackName} so the launch template picks up ${staleness.amiUpdate.to}`);
    const body = await currentTemplateBody(deps.cloudFormation, stack.StackId ?? options.stackName);
    await deployTemplate(
      {
        stackName: options.stackName,
        template: parseTemplate(`deployed template of ${options.stackName}`, body),
        parameterValues: new Map(),
        tags: new Map(),
        timeoutMinutes: options.timeoutMinutes,
        waitForOtherOperationMinutes: options.waitMinutes,
      },
      {
        cloudFormation: deps.cloudFormation,
        log,
        clock,
        ...(deps.signal ? { signal: deps.signal } : {}),
      },
    );
  }

  const preferences = refreshPreferences(options, staleness);
  // After a stack update the group points at a new launch template version: read it again.
  const current = staleness.amiUpdate ? await describeGroup(deps.autoScaling, groupName) : group;
  const desired = current ? desiredConfiguration(current) : undefined;
  if (preferences.AutoRollback && !desired) {
    throw new OperationError(
      `group ${groupName} does not name a launch template version, which automatic rollback needs`,
      [
        'pin the version in the template (LaunchTemplate.LatestVersionNumber), or roll with --no-auto-rollback',
      ],
    );
  }
  const refreshId = await deps.refresh.startRefresh(groupName, preferences, desired);
  log.info(
    `Started instance refresh ${refreshId} on ${groupName} (min healthy ${preferences.MinHealthyPercentage}%, max healthy ${preferences.MaxHealthyPercentage}%, skip matching ${preferences.SkipMatching ? 'yes' : 'no'}, auto rollback ${preferences.AutoRollback ? 'on' : 'off'})`,
  );
  await followRefresh(groupName, refreshId, options, deps, clock);
  return 'rolled';
}

export async function findStaleness(
  stack: Stack,
  group: AutoScalingGroup,
  deps: Pick<RollDependencies, 'ssm' | 'latestRunnerVersion' | 'instanceRunnerVersions'>,
): Promise<Staleness> {
  const parameters = new Map((stack.Parameters ?? []).map((p) => [p.ParameterKey ?? '', p]));
  const notes: string[] = [];

  let amiUpdate: Staleness['amiUpdate'];
  const pinned = parameters.get('PinnedImageId')?.ParameterValue ?? '';
  const imageParameter = parameters.get('ImageIdParameter');
  if (pinned) {
    notes.push(`AMI is pinned to ${pinned}: change PinnedImageId to move it`);
  } else if (imageParameter?.ParameterValue && !imageParameter.ParameterValue.startsWith('/')) {
    notes.push(
      'the stack does not report the SSM parameter path of its AMI; comparing launch template versions only',
    );
  } else if (imageParameter?.ParameterValue) {
    const deployedAmi = imageParameter.ResolvedValue ?? '';
    const latestAmi = await currentParameterValue(deps.ssm, imageParameter.ParameterValue);
    if (deployedAmi && deployedAmi !== latestAmi) amiUpdate = { from: deployedAmi, to: latestAmi };
    else if (!deployedAmi)
      notes.push('the stack does not report the AMI it resolved; comparing launch template versions only');
  }

  const runnerSetting = parameters.get('RunnerVersion')?.ParameterValue ?? 'latest';
  const wantedRunnerVersion =
    runnerSetting === 'latest' ? await deps.latestRunnerVersion() : runnerSetting.replace(/^v/, '');
  if (runnerSetting === 'latest' && !wantedRunnerVersion) {
    notes.push('could not find the latest gitlab-runner release; runner versions not compared');
  }
  const instanceIds = (group.Instances ?? []).map((i) => i.InstanceId ?? '').filter(Boolean);
  const versions = wantedRunnerVersion ? await deps.instanceRunnerVersions(instanceIds) : undefined;
  if (wantedRunnerVersion && !versions) {
    notes.push(
      "the runner version of each instance is unknown: it needs RUNNER_FLEET_GITLAB_TOKEN and the fleet's runner (--runner-id, RUNNER_FLEET_RUNNER_TOKEN, or the id create-runner recorded)",
    );
  }
  const runnerOutdated = versions
    ? [...versions]
        .filter(([, version]) => version.replace(/^v/, '') !== wantedRunnerVersion)
        .map(([instanceId, version]) => ({ instanceId, version }))
    : [];

  return {
    amiUpdate,
    instancesOnOldTemplate: instancesOnOtherVersions(group),
    runnerOutdated,
    wantedRunnerVersion,
    notes,
  };
}

export function refreshPreferences(options: RollOptions, staleness: Staleness): RefreshPreferences {
  // Only a new launch template version makes instances differ; a newer runner
  // release is installed at boot from the same template, so matching
  // instances must not be skipped then.
  const onlyRunnerOutdated =
    !staleness.amiUpdate &&
    staleness.instancesOnOldTemplate.length === 0 &&
    staleness.runnerOutdated.length > 0;
  return {
    MinHealthyPercentage: options.minHealthyPercentage,
    // Above 100: new instances launch before old ones go, so capacity never dips.
    MaxHealthyPercentage: options.maxHealthyPercentage,
    SkipMatching: !(options.force || onlyRunnerOutdated),
    AutoRollback: options.autoRollback,
    // Busy runners protect themselves from scale-in. Replace them anyway: their
    // terminate hook drains the running jobs first. 'Wait' would fail the whole
    // refresh after one hour, shorter than a long job.
    ScaleInProtectedInstances: 'Refresh',
    // An operator put standby instances aside on purpose; leave them.
    StandbyInstances: 'Ignore',
    ...(options.instanceWarmupSeconds !== undefined ? { InstanceWarmup: options.instanceWarmupSeconds } : {}),
    ...(options.checkpointPercentages.length > 0
      ? { CheckpointPercentages: options.checkpointPercentages }
      : {}),
  };
}

function report(
  log: Logger,
  stackName: string,
  groupName: string,
  staleness: Staleness,
  running: InstanceRefresh | undefined,
): void {
  log.info(`Fleet ${stackName} (group ${groupName}):`);
  log.info(
    staleness.amiUpdate
      ? `  AMI: out of date: ${staleness.amiUpdate.from} -> ${staleness.amiUpdate.to}`
      : '  AMI: up to date',
  );
  log.info(
    staleness.instancesOnOldTemplate.length > 0
      ? `  launch template: ${staleness.instancesOnOldTemplate.length} instance(s) on an older version: ${staleness.instancesOnOldTemplate.map((i) => `${i.instanceId} (v${i.version})`).join(', ')}`
      : '  launch template: every instance on the current version',
  );
  if (staleness.wantedRunnerVersion) {
    log.info(
      staleness.runnerOutdated.length > 0
        ? `  gitlab-runner: want ${staleness.wantedRunnerVersion}; out of date: ${staleness.runnerOutdated.map((i) => `${i.instanceId} (${i.version})`).join(', ')}`
        : `  gitlab-runner: want ${staleness.wantedRunnerVersion}; no instance known to run another version`,
    );
  }
  for (const note of staleness.notes) log.info(`  note: ${note}`);
  if (running) log.info(`  instance refresh ${running.InstanceRefreshId} is ${running.Status}`);
}

async function followRefresh(
  groupName: string,
  refreshId: string,
  options: RollOptions,
  deps: RollDependencies,
  clock: Clock,
): Promise<void> {
  let lastLine = '';
  const observe = async () => {
    const refresh = await deps.refresh.describeRefresh(groupName, refreshId);
    if (!refresh) throw new OperationError(`instance refresh ${refreshId} of ${groupName} is gone`);
    const line = progressLine(refresh);
    if (line !== lastLine) deps.log.info(line);
    lastLine = line;
    return refresh;
  };
  let outcome: { value: InstanceRefresh; timedOut: boolean };
  try {
    outcome = await pollUntil(observe, (refresh) => REFRESH_END_STATES.has(refresh.Status ?? ''), {
      clock,
      deadline: clock.now() + options.waitMinutes * 60_000,
      firstDelayMs: REFRESH_POLL_FIRST_MS,
      maxDelayMs: REFRESH_POLL_MAX_MS,
      signal: deps.signal,
    });
  } catch (error) {
    if (deps.signal?.aborted) {
      deps.log.warn(
        `interrupted: instance refresh ${refreshId} goes on in AWS (it drains every instance, so it is safe to leave); cancel it with aws autoscaling cancel-instance-refresh --auto-scaling-group-name ${groupName}`,
      );
      throw new InterruptedError(`roll of ${groupName} interrupted`);
    }
    throw error;
  }
  const status = outcome.value.Status ?? 'Unknown';
  if (outcome.timedOut) {
    throw new OperationError(
      `instance refresh ${refreshId} is still ${status} after ${options.waitMinutes} minutes`,
      ['it goes on in AWS; run roll again to follow it, or raise --wait-minutes'],
    );
  }
  if (status !== 'Successful') {
    throw new OperationError(`instance refresh ${refreshId} ended ${status}`, [
      outcome.value.StatusReason ?? 'no reason given',
      status.startsWith('Rollback')
        ? 'the group is back on its previous launch template; fix the cause and roll again'
        : 'look at the Auto Scaling group activity history for the instances that failed',
    ]);
  }
  deps.log.info(`Instance refresh ${refreshId} finished: every instance runs the current configuration`);
}

export function progressLine(refresh: InstanceRefresh): string {
  const percentage = refresh.PercentageComplete ?? 0;
  const left = refresh.InstancesToUpdate ?? 0;
  const reason = refresh.StatusReason ? ` (${refresh.StatusReason})` : '';
  return `instance refresh ${refresh.InstanceRefreshId}: ${refresh.Status} ${percentage}% complete, ${left} instance(s) left${reason}`;
}

/**
 * What the refresh rolls to, pinned to the group's numbered launch template
 * version: AWS needs it for automatic rollback, and it keeps the refresh from
 * following a later stack update half-way.
 */
export function desiredConfiguration(group: AutoScalingGroup): DesiredConfiguration | undefined {
  const template = groupLaunchTemplate(group);
  if (!template || !/^\d+$/.test(template.version)) return undefined;
  if (group.MixedInstancesPolicy) return { MixedInstancesPolicy: group.MixedInstancesPolicy };
  return { LaunchTemplate: { LaunchTemplateId: template.id, Version: template.version } };
}
