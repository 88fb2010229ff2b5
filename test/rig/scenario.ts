/**
 * The rig's scenario harness: launches one instance through the shipped
 * bootstrap (shell.sh) with the real runner under a real systemd, drives the
 * instance's surroundings (Auto Scaling transitions, IMDS notices, GitLab
 * jobs) and judges the outcome only on what GitLab and AWS received, and when.
 *
 * A job is LOST when the instance is released (its terminate action
 * completed, by call or timeout, or the spot reclaim time passed) before
 * GitLab received the job's final state.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AwsLifecycleFake,
  hooksFromTemplate,
  type LifecycleAction,
  startAwsLifecycleFake,
} from './doubles/aws-lifecycle-fake.js';
import { type RigJob, type RunnerApiDouble, startRunnerApiDouble } from './doubles/gitlab-runner-api.js';
import { type Instance, REPO, readText, startInstance, waitFor } from './instance.js';

/**
 * Template seconds -> real seconds: the shipped 600 s hook timeout lasts 20 s
 * and the instance heartbeats every 20 / 3 = 6 s. Not shorter: what is not
 * scaled (an aws CLI call takes 1-4 s on a loaded 2-core machine, the agent
 * unit's RestartSec=5) must stay small against the timeout, as in production.
 */
export const TIME_SCALE = 1 / 30;
export const MAX_DRAIN_SECONDS = 20;

/** Short timings through the scripts' own knobs (runner_configs/linux/lib/common.sh). */
export const RIG_ENV: Record<string, string> = {
  RF_POLL_INTERVAL_SECONDS: '1',
  RF_METRICS_INTERVAL_SECONDS: '5',
  RF_RUNNER_SHUTDOWN_TIMEOUT_SECONDS: '5',
  RF_FORCED_STOP_WAIT_SECONDS: '8',
  RF_SPOT_UNREGISTER_RESERVE_SECONDS: '4',
  RF_UNREGISTER_TIMEOUT_SECONDS: '3',
  RF_RETRY_ATTEMPTS: '3',
  RF_RETRY_BASE_SECONDS: '1',
  RF_IMDS_CONNECT_TIMEOUT_SECONDS: '1',
  RF_IMDS_MAX_TIME_SECONDS: '1',
  RF_SERVICE_START_TIMEOUT_SECONDS: '30',
  RF_VERIFY_ATTEMPTS: '2',
};

export function runnerBinary(): string {
  return process.env.RF_RIG_GITLAB_RUNNER ?? join(REPO, '.tools/gitlab-runner/bin/gitlab-runner');
}

/** Everything that must exist for the rig to run; empty when all is there. */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (unshare --mount, nsenter)');
  for (const path of ['/lib/systemd/systemd', '/usr/bin/systemctl', '/usr/bin/unshare', '/usr/bin/nsenter']) {
    if (!existsSync(path)) missing.push(path);
  }
  if (!existsSync(runnerBinary())) missing.push(`${runnerBinary()} (bash tools/setup.d/60-gitlab-runner.sh)`);
  if (!existsSync(join(REPO, '.tools/bin/aws'))) missing.push('.tools/bin/aws (bash tools/setup.sh)');
  return missing;
}

export interface Ctx {
  gitlab: RunnerApiDouble;
  aws: AwsLifecycleFake;
  instance: Instance;
  launch: LifecycleAction;
  bootstrap: { code: number; output: string };
  /** When the instance was released (CONTINUE, hook timeout or spot reclaim), once known. */
  releaseAt?: number;
  close(): Promise<void>;
}

export async function launchInstance(
  options: { refuseToken?: boolean; env?: Record<string, string>; timeScale?: number } = {},
): Promise<Ctx> {
  const timeScale = options.timeScale ?? TIME_SCALE;
  const hooks = hooksFromTemplate(join(REPO, 'cfn/runner-fleet.yaml'));
  const gitlab = await startRunnerApiDouble();
  const aws = await startAwsLifecycleFake({ hooks, timeScale });
  const terminateHook = hooks.find((hook) => hook.transition === 'autoscaling:EC2_INSTANCE_TERMINATING');
  const instance = await startInstance({
    gitlab,
    aws,
    runnerBinary: runnerBinary(),
    timings: {
      timeScale,
      heartbeatTimeoutSeconds: terminateHook?.heartbeatTimeoutSeconds ?? 600,
      maxDrainSeconds: MAX_DRAIN_SECONDS,
      env: { ...RIG_ENV, ...options.env },
    },
  });
  if (options.refuseToken) gitlab.refusedTokens.add(instance.token);
  else gitlab.validTokens.add(instance.token);
  const launch = aws.beginTransition(instance.id, 'autoscaling:EC2_INSTANCE_LAUNCHING');
  const bootstrap = await instance.bootstrap();
  return {
    gitlab,
    aws,
    instance,
    launch,
    bootstrap,
    async close() {
      await instance.close();
      await gitlab.close();
      await aws.close();
    },
  };
}

/** Queues a real shell job and waits until the runner reported it running. */
export async function runJob(ctx: Ctx, name: string, seconds: number): Promise<RigJob> {
  const job = ctx.gitlab.enqueue({
    name,
    script: [`echo "${name} starts"`, `sleep ${seconds}`, `echo "${name} done"`],
  });
  await waitFor(`${name} to start`, () => job.trace.includes(`${name} starts`), 20_000);
  return job;
}

/** The Auto Scaling group terminates the instance: Terminating:Wait, and IMDS says Terminated. */
export async function terminate(ctx: Ctx): Promise<LifecycleAction> {
  const action = ctx.aws.beginTransition(ctx.instance.id, 'autoscaling:EC2_INSTANCE_TERMINATING');
  await ctx.instance.imds.set({ lifecycle_state: 'Terminated' });
  return action;
}

export function released(
  action: LifecycleAction,
  timeoutMs: number,
): Promise<NonNullable<LifecycleAction['result']>> {
  return waitFor('the lifecycle action to end', () => action.result, timeoutMs);
}

/** Jobs GitLab had not received a final state for by releaseAt. */
export function lostJobs(ctx: Ctx, releaseAt: number): RigJob[] {
  return ctx.gitlab.jobs.filter(
    (job) => job.takenAt !== undefined && (!job.final || job.final.at > releaseAt),
  );
}

/** The drain's state file (9-fix: $RF_STATE_DIR/drain.state), as a map; empty when absent. */
export function drainState(ctx: Ctx): Record<string, string> {
  const path = join(ctx.instance.stateDir, 'drain.state');
  if (!existsSync(path)) return {};
  return Object.fromEntries(
    readText(path)
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** What to print when an assertion fails: the instance's own logs. */
export function diagnostics(ctx: Ctx): string {
  return [
    `--- bootstrap (exit ${ctx.bootstrap.code})`,
    ctx.bootstrap.output.slice(-3000),
    '--- AWS calls (service action status at)',
    ...ctx.aws.calls.map(
      (call) => `${call.service} ${call.action} ${call.status} ${new Date(call.at).toISOString()}`,
    ),
    '--- GitLab requests (method path status at)',
    ...ctx.gitlab.requests
      .filter((request) => request.path !== '/jobs/request' || request.status !== 204)
      .map(
        (request) =>
          `${request.method} ${request.path} ${request.status} ${new Date(request.at).toISOString()}`,
      ),
    '--- lifecycle-agent.log',
    ctx.instance.agentLog().slice(-4000),
    '--- gitlab-runner.log',
    ctx.instance.runnerLog().slice(-3000),
  ].join('\n');
}

/** Figures collected over the run, printed at the end. */
export const tally = {
  jobs: 0,
  lost: 0,
  idleDrainMs: [] as number[],
  busyDrainMs: [] as number[],
};

/**
 * Adds a finished scenario's jobs to the tally, whatever its assertions said:
 * released at ctx.releaseAt, or never released (then every job without a
 * final state by now counts as lost).
 */
export function count(ctx: Ctx): void {
  tally.jobs += ctx.gitlab.jobs.filter((job) => job.takenAt !== undefined).length;
  tally.lost += lostJobs(ctx, ctx.releaseAt ?? Date.now()).length;
}

/** Records the release time and returns the jobs lost by it. */
export function release(ctx: Ctx, at: number): RigJob[] {
  ctx.releaseAt = at;
  return lostJobs(ctx, at);
}
