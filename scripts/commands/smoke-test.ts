/**
 * `runner-fleet smoke-test`: proves a deployed fleet works. Waits (bounded)
 * for the group's desired capacity in service, then requires each instance's
 * runner manager in GitLab to be online, to have contacted GitLab since the
 * instance launched, and to run the expected gitlab-runner version; optionally
 * runs a canary pipeline and checks the fleet ran it. Every check becomes one
 * JUnit test case. Orchestration only: AWS calls in aws/, GitLab calls in
 * gitlab/, what the answers mean in smoke-test/evaluate.ts, the report in
 * render/junit.ts.
 */
import { writeFile } from 'node:fs/promises';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import {
  describeGroup,
  type GroupCapacity,
  groupCapacity,
  groupNameOfStack,
  hasDesiredCapacity,
  instanceDetails,
} from '../aws/auto-scaling.ts';
import { describeStack, stackParameterValue } from '../aws/cloudformation.ts';
import { apiRoot } from '../config/gitlab-access.ts';
import { InputError, InterruptedError, OperationError } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import {
  createPipeline,
  getPipeline,
  isPipelineFinished,
  listPipelineJobs,
  type Pipeline,
  triggerPipeline,
} from '../gitlab/pipelines.ts';
import { findManagerForInstance, listManagers, runnerTokenExpiry } from '../gitlab/runners.ts';
import type { Logger } from '../log.ts';
import { type Clock, type PollOptions, pollUntil, systemClock } from '../poll.ts';
import { type CheckResult, renderJUnit } from '../render/junit.ts';
import {
  CANARY_VARIABLE,
  canaryPlacement,
  canarySkipped,
  canaryStatusResult,
  capacityLine,
  capacityResult,
  checkLine,
  evaluateInstance,
  expectedRunnerVersion,
  failureLines,
  managersDecided,
  tokenExpiryResult,
} from '../smoke-test/evaluate.ts';
import { type FleetRunner, findFleetRunner, NO_FLEET_RUNNER_HINT } from './fleet-runner.ts';

export interface CanaryOptions {
  /** Branch or tag the canary pipeline runs on. */
  ref: string;
  /** Project id or path that holds the canary pipeline. */
  project: string;
  /** Pipeline trigger token; without it the pipeline is created with the API token. */
  triggerToken?: string;
  waitMinutes: number;
}

export interface SmokeTestOptions {
  stackName: string;
  /**
   * The fleet's runner; when absent it is resolved from runnerToken, else
   * from the id create-runner recorded on the stack's token parameter.
   */
  runnerId?: number;
  runnerToken?: string;
  /** Without it: the stack parameter RunnerVersion, unless that is "latest". */
  expectedVersion?: string;
  /** GitLab URL (https://host); without it the stack parameter GitLabUrl. */
  gitlabUrl?: string;
  /** Longest wait for capacity and runner managers together. */
  waitMinutes: number;
  canary?: CanaryOptions;
  junitFile?: string;
  /** Fail when the runner authentication token expires within this many days. */
  tokenExpiryDays?: number;
}

export interface SmokeTestDependencies {
  cloudFormation: CloudFormationClient;
  autoScaling: AutoScalingClient;
  ec2: EC2Client;
  /** Builds the GitLab client once the API URL is known (it may come from the stack). */
  gitlab: (apiUrl: string) => GitLabClient;
  /** Reads the runner id create-runner recorded, when neither id nor token is given. */
  ssm: () => Promise<SSMClient>;
  /** The fleet's runner as a caller already found it (roll); else found here from the options. */
  fleetRunner?: () => Promise<FleetRunner | undefined>;
  log: Logger;
  clock?: Clock;
  signal?: AbortSignal;
}

export interface SmokeTestResult {
  checks: CheckResult[];
  passed: boolean;
}

/**
 * New instances take minutes to boot and register, so the first polls come
 * fast (a fleet that is already up passes at once) and then slow down to
 * spare the Auto Scaling and GitLab APIs.
 */
export const SMOKE_POLL_FIRST_DELAY_MS = 2_000;
export const SMOKE_POLL_MAX_DELAY_MS = 15_000;

const SUITE_NAME = 'runner-fleet smoke-test';

export async function smokeTest(
  options: SmokeTestOptions,
  deps: SmokeTestDependencies,
): Promise<SmokeTestResult> {
  const { log } = deps;
  const clock = deps.clock ?? systemClock;
  const started = clock.now();
  const deadline = started + options.waitMinutes * 60_000;
  const checks: CheckResult[] = [];

  const stack = await describeStack(deps.cloudFormation, options.stackName, deps.signal);
  if (!stack) {
    throw new InputError(`stack ${options.stackName} does not exist; check --stack-name and --region`);
  }
  const expectedVersion = resolveExpectedVersion(options.expectedVersion, stack, log);
  const gitlab = deps.gitlab(resolveApiUrl(options.gitlabUrl, stack, log));

  let phase = 'runner';
  try {
    const { id: runnerId, tokenExpiresAt } = await findRunnerId(options, stack, gitlab, deps);
    if (options.tokenExpiryDays !== undefined) {
      const expiry =
        tokenExpiresAt === undefined ? await runnerTokenExpiry(gitlab, runnerId) : tokenExpiresAt;
      const expiryCheck = tokenExpiryResult(expiry, options.tokenExpiryDays, new Date(clock.now()));
      checks.push(expiryCheck);
      log.info(checkLine(expiryCheck));
    }

    phase = 'capacity';
    const groupName = await groupNameOfStack(deps.cloudFormation, stack, deps.signal);
    const capacityStarted = clock.now();
    const capacity = await waitForCapacity(groupName, deadline, deps, clock);
    const capacityCheck = capacityResult(groupName, capacity, (clock.now() - capacityStarted) / 1000);
    checks.push(capacityCheck);
    log.info(checkLine(capacityCheck));

    phase = 'runner managers';
    const instanceIds = capacity.inService.flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])).sort();
    const instanceChecks = await checkManagers(
      instanceIds,
      runnerId,
      expectedVersion,
      deadline,
      deps,
      gitlab,
      clock,
    );
    for (const check of instanceChecks) {
      checks.push(check);
      log.info(checkLine(check));
    }

    phase = 'canary';
    if (options.canary) {
      const earlierFailures = checks.some((c) => c.status === 'failed');
      const canaryChecks = earlierFailures
        ? canarySkipped('the fleet failed the checks above')
        : await runCanary(options.canary, options.stackName, runnerId, instanceIds, deps, gitlab, clock);
      for (const check of canaryChecks) {
        checks.push(check);
        log.info(checkLine(check));
      }
    }
  } catch (error) {
    if (deps.signal?.aborted) throw new InterruptedError(`smoke test of ${options.stackName} interrupted`);
    // The report still shows how far the run got and what stopped it.
    checks.push({
      classname: 'smoke-test',
      name: phase,
      status: 'failed',
      message: error instanceof Error ? error.message : String(error),
    });
    await writeReport(options.junitFile, checks, started, log);
    throw error;
  }

  await writeReport(options.junitFile, checks, started, log);
  const failed = checks.filter((c) => c.status === 'failed');
  const skipped = checks.filter((c) => c.status === 'skipped').length;
  log.info(
    `Smoke test of ${options.stackName}: ${checks.length - failed.length - skipped} passed, ${failed.length} failed, ${skipped} skipped`,
  );
  if (failed.length > 0) {
    throw new OperationError(
      `smoke test of ${options.stackName} failed: ${failed.length} of ${checks.length} checks failed`,
      failureLines(failed),
    );
  }
  return { checks, passed: true };
}

function resolveExpectedVersion(given: string | undefined, stack: Stack, log: Logger): string | undefined {
  const fromStack = stackParameterValue(stack, 'RunnerVersion');
  const { version, note } = expectedRunnerVersion(given, fromStack);
  if (note) log.info(note);
  return version;
}

/** --gitlab-url or CI_SERVER_URL (given), else the URL the stack's runners register with. */
function resolveApiUrl(given: string | undefined, stack: Stack, log: Logger): string {
  const fromStack = stackParameterValue(stack, 'GitLabUrl');
  const url = given ?? fromStack;
  if (!url) {
    throw new InputError('no GitLab URL: pass --gitlab-url or set CI_SERVER_URL');
  }
  if (given && fromStack && originOf(given) !== originOf(fromStack)) {
    log.warn(`GitLab URL ${given} is not the stack's GitLabUrl ${fromStack}, where its runners register`);
  }
  return apiRoot(url);
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

async function findRunnerId(
  options: SmokeTestOptions,
  stack: Stack,
  gitlab: GitLabClient,
  deps: SmokeTestDependencies,
): Promise<{ id: number; tokenExpiresAt?: string | null | undefined }> {
  const find =
    deps.fleetRunner ??
    (() =>
      findFleetRunner({
        runnerIdFlag: options.runnerId,
        runnerToken: options.runnerToken,
        gitlab,
        stack: async () => stack,
        ssm: deps.ssm,
        log: deps.log,
      }));
  const runner = await find();
  if (!runner) throw new InputError(`no runner for stack ${options.stackName}: ${NO_FLEET_RUNNER_HINT}`);
  const expiry = runner.tokenExpiresAt ? `; its token expires ${runner.tokenExpiresAt}` : '';
  deps.log.info(`Runner #${runner.id} (from ${runner.from}${expiry})`);
  return runner;
}

async function waitForCapacity(
  groupName: string,
  deadline: number,
  deps: SmokeTestDependencies,
  clock: Clock,
): Promise<GroupCapacity> {
  const { log } = deps;
  log.info(`Waiting for group ${groupName} to have its desired capacity in service`);
  let lastLine = '';
  const { value } = await pollUntil(
    async () => {
      const group = await describeGroup(deps.autoScaling, groupName);
      if (!group) throw new OperationError(`Auto Scaling group ${groupName} does not exist`);
      const capacity = groupCapacity(group);
      const line = capacityLine(capacity);
      if (line !== lastLine) log.info(`  ${line}`);
      lastLine = line;
      return capacity;
    },
    hasDesiredCapacity,
    pollOptions(deadline, deps, clock),
  );
  return value;
}

async function checkManagers(
  instanceIds: readonly string[],
  runnerId: number,
  expectedVersion: string | undefined,
  deadline: number,
  deps: SmokeTestDependencies,
  gitlab: GitLabClient,
  clock: Clock,
): Promise<CheckResult[]> {
  if (instanceIds.length === 0) return [];
  const launchTimes = new Map(
    [...(await instanceDetails(deps.ec2, instanceIds))].flatMap(([id, detail]) =>
      detail.launchTime ? [[id, detail.launchTime] as const] : [],
    ),
  );
  deps.log.info(`Checking the runner managers of ${instanceIds.length} instance(s) on runner #${runnerId}`);
  let lastWaiting = '';
  const { value } = await pollUntil(
    async () => {
      const managers = await listManagers(gitlab, runnerId);
      const evaluations = instanceIds.map((id) =>
        evaluateInstance(
          id,
          launchTimes.get(id),
          findManagerForInstance(managers, id),
          runnerId,
          expectedVersion,
        ),
      );
      const waiting = instanceIds.filter((_, index) => evaluations[index]?.pending);
      if (waiting.length > 0) {
        const line = `waiting for the runner managers of ${waiting.join(', ')}`;
        if (line !== lastWaiting) deps.log.info(`  ${line}`);
        lastWaiting = line;
      }
      return evaluations;
    },
    managersDecided,
    pollOptions(deadline, deps, clock),
  );
  return value.flatMap((e) => e.checks);
}

async function runCanary(
  canary: CanaryOptions,
  stackName: string,
  runnerId: number,
  instanceIds: readonly string[],
  deps: SmokeTestDependencies,
  gitlab: GitLabClient,
  clock: Clock,
): Promise<CheckResult[]> {
  const { log } = deps;
  const started = clock.now();
  const deadline = started + canary.waitMinutes * 60_000;
  const request = {
    ref: canary.ref,
    variables: {
      [CANARY_VARIABLE]: '1',
      RUNNER_FLEET_STACK_NAME: stackName,
      RUNNER_FLEET_RUNNER_ID: String(runnerId),
    },
  };
  let pipeline: Pipeline = canary.triggerToken
    ? await triggerPipeline(gitlab, canary.project, canary.triggerToken, request)
    : await createPipeline(gitlab, canary.project, request);
  log.info(
    `Canary pipeline #${pipeline.id} on ${canary.ref} in ${canary.project}${pipeline.web_url ? `: ${pipeline.web_url}` : ''}`,
  );
  let lastStatus = '';
  let first = true;
  const polled = await pollUntil(
    async () => {
      // The first look is the pipeline as created; later looks ask GitLab again.
      const current = first ? pipeline : await getPipeline(gitlab, canary.project, pipeline.id);
      first = false;
      if (current.status !== lastStatus) log.info(`  canary pipeline #${current.id} ${current.status}`);
      lastStatus = current.status;
      return current;
    },
    (current) => isPipelineFinished(current.status),
    pollOptions(deadline, deps, clock),
  );
  pipeline = polled.value;
  const seconds = (clock.now() - started) / 1000;
  const jobs = await listPipelineJobs(gitlab, canary.project, pipeline.id);
  return [
    canaryStatusResult(pipeline, jobs, canary, seconds),
    canaryPlacement(jobs, runnerId, instanceIds, pipeline.id),
  ];
}

async function writeReport(
  file: string | undefined,
  checks: readonly CheckResult[],
  started: number,
  log: Logger,
): Promise<void> {
  if (!file) return;
  await writeFile(
    file,
    renderJUnit({ name: SUITE_NAME, timestamp: new Date(started).toISOString(), cases: checks }),
  );
  log.info(`Wrote the JUnit report (${checks.length} test cases) to ${file}`);
}

function pollOptions(deadline: number, deps: SmokeTestDependencies, clock: Clock): PollOptions {
  return {
    clock,
    deadline,
    firstDelayMs: SMOKE_POLL_FIRST_DELAY_MS,
    maxDelayMs: SMOKE_POLL_MAX_DELAY_MS,
    signal: deps.signal,
  };
}
