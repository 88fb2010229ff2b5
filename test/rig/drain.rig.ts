/**
 * The drain rig's scenarios: every drain path of the Linux instance scripts,
 * with the real gitlab-runner running real shell jobs under a real systemd
 * (see test/rig/instance.ts for what is real and what stands in). Run by
 * tools/checks/60-drain-rig.sh; prints `jobs lost X of N` and the drain timings.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_UNIT, RUNNER_UNIT, sleep, waitFor } from './instance.js';
import {
  type Ctx,
  count,
  diagnostics,
  drainState,
  launchInstance,
  missingPrerequisites,
  release,
  released,
  runJob,
  TIME_SCALE,
  tally,
  terminate,
} from './scenario.js';

const missing = missingPrerequisites();
const inCi = process.env.CI === 'true';
let ctx: Ctx | undefined;

beforeAll(() => {
  if (missing.length && inCi) throw new Error(`drain rig prerequisites missing in CI: ${missing.join(', ')}`);
  if (missing.length) console.warn(`drain rig skipped: missing ${missing.join(', ')}`);
});
afterEach(async (context) => {
  if (ctx && context.task.result?.state === 'fail') console.error(diagnostics(ctx));
  if (ctx) count(ctx);
  await ctx?.close();
  ctx = undefined;
});
afterAll(() => {
  const figures = (values: number[]): string =>
    values.length ? values.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ') : 'none';
  console.log(`jobs lost ${tally.lost} of ${tally.jobs}`);
  console.log(`idle drain, Terminating -> CONTINUE: ${figures(tally.idleDrainMs)}`);
  console.log(`busy drain, job end -> CONTINUE: ${figures(tally.busyDrainMs)}`);
});

async function launched(options: Parameters<typeof launchInstance>[0] = {}): Promise<Ctx> {
  ctx = await launchInstance(options);
  expect(ctx.bootstrap.code, diagnostics(ctx)).toBe(0);
  return ctx;
}

/** Sets the spot notice in IMDS; returns the reclaim time (ms). */
async function spotNotice(c: Ctx, secondsAhead: number): Promise<number> {
  const reclaimAt = Math.ceil((Date.now() + secondsAhead * 1000) / 1000) * 1000;
  await c.instance.imds.set({
    spot_action: { action: 'terminate', time: new Date(reclaimAt).toISOString().replace(/\.\d{3}Z$/, 'Z') },
  });
  return reclaimAt;
}

describe.skipIf(missing.length > 0 && !inCi)('drain rig: real gitlab-runner under a real systemd', () => {
  it('launch: CONTINUE only after the real runner verified', async () => {
    const c = await launched();
    const result = c.launch.result;
    expect(result).toMatchObject({ value: 'CONTINUE', by: 'call' });
    const verified = c.gitlab.verifications.filter((verification) => verification.ok);
    expect(verified.length).toBeGreaterThan(0);
    expect(Math.max(...verified.map((verification) => verification.at))).toBeLessThan(result?.at ?? 0);
  });

  it('launch: ABANDON when GitLab refuses the token', async () => {
    ctx = await launchInstance({ refuseToken: true });
    expect(ctx.bootstrap.code).not.toBe(0);
    expect(ctx.launch.result, diagnostics(ctx)).toMatchObject({ value: 'ABANDON', by: 'call' });
    expect(ctx.gitlab.verifications.some((verification) => verification.ok)).toBe(false);
    expect(ctx.gitlab.jobs).toEqual([]);
  });

  it('idle scale-in: unregistered, then CONTINUE', async () => {
    const c = await launched();
    const action = await terminate(c);
    const result = await released(action, 30_000);
    expect(result, diagnostics(c)).toMatchObject({ value: 'CONTINUE', by: 'call' });
    tally.idleDrainMs.push(result.at - action.startedAt);
    expect(c.gitlab.managerDeletions).toHaveLength(1);
    expect(c.gitlab.managerDeletions[0]?.at).toBeLessThan(result.at);
    expect(release(c, result.at)).toEqual([]);
  });

  it('busy scale-in: the job reports success before CONTINUE, heartbeats while it runs, no new job starts', async () => {
    const c = await launched();
    const job = await runJob(c, 'busy', 16);
    const action = await terminate(c);
    await sleep(2000);
    const late = c.gitlab.enqueue({ name: 'late', script: ['echo late'] });
    const result = await released(action, 60_000);
    c.releaseAt = result.at;
    expect(result, diagnostics(c)).toMatchObject({ value: 'CONTINUE', by: 'call' });
    expect(job.final, diagnostics(c)).toMatchObject({ state: 'success' });
    expect(job.final?.at ?? Number.POSITIVE_INFINITY).toBeLessThan(result.at);
    expect(job.trace).toContain('busy done');
    // Heartbeats while the job runs, never a gap as long as the hook's timeout.
    expect(
      action.heartbeats.filter((at) => at < (job.final?.at ?? 0)).length,
      diagnostics(c),
    ).toBeGreaterThanOrEqual(1);
    const marks = [action.startedAt, ...action.heartbeats, result.at];
    const longestGap = Math.max(...marks.slice(1).map((at, index) => at - (marks[index] ?? at)));
    expect(longestGap).toBeLessThan(action.hook.heartbeatTimeoutSeconds * 1000 * TIME_SCALE);
    expect(late.takenAt).toBeUndefined();
    expect(c.gitlab.managerDeletions[0]?.at ?? Number.POSITIVE_INFINITY).toBeLessThan(result.at);
    tally.busyDrainMs.push(result.at - (job.final?.at ?? result.at));
    expect(release(c, result.at)).toEqual([]);
  });

  it('drain deadline: the job is reported failed with runner_interrupted, then CONTINUE', async () => {
    const c = await launched();
    const job = await runJob(c, 'endless', 300);
    const action = await terminate(c);
    const result = await released(action, 90_000);
    c.releaseAt = result.at;
    expect(result, diagnostics(c)).toMatchObject({ value: 'CONTINUE', by: 'call' });
    expect(job.final, diagnostics(c)).toMatchObject({ state: 'failed', failureReason: 'runner_interrupted' });
    expect(job.final?.at ?? Number.POSITIVE_INFINITY).toBeLessThan(result.at);
    // Not before the deadline (RF_MAX_DRAIN_SECONDS after the drain began).
    expect(job.final?.at ?? 0).toBeGreaterThanOrEqual(action.startedAt + 15_000);
    expect(release(c, result.at)).toEqual([]);
  });

  it('spot notice: no new job starts; jobs end or are reported interrupted and the manager is gone before the reclaim', async () => {
    const c = await launched();
    const short = await runJob(c, 'short', 4);
    const long = await runJob(c, 'long', 300);
    const reclaimAt = await spotNotice(c, 30);
    c.releaseAt = reclaimAt;
    await sleep(3000);
    const late = c.gitlab.enqueue({ name: 'late', script: ['echo late'] });
    await waitFor('the manager deletion', () => c.gitlab.managerDeletions[0], 40_000);
    expect(short.final, diagnostics(c)).toMatchObject({ state: 'success' });
    expect(long.final, diagnostics(c)).toMatchObject({
      state: 'failed',
      failureReason: 'runner_interrupted',
    });
    expect(c.gitlab.managerDeletions[0]?.at ?? Number.POSITIVE_INFINITY).toBeLessThan(reclaimAt);
    expect(late.takenAt).toBeUndefined();
    expect(release(c, reclaimAt)).toEqual([]);
  });

  it('spot notice during a terminate drain: the earlier reclaim wins', async () => {
    const c = await launched();
    const job = await runJob(c, 'long', 300);
    const action = await terminate(c);
    await waitFor('a drain heartbeat', () => action.heartbeats[0], 20_000);
    const reclaimAt = await spotNotice(c, 25);
    c.releaseAt = reclaimAt;
    const result = await released(action, 40_000);
    const releaseAt = Math.min(result.at, reclaimAt);
    c.releaseAt = releaseAt;
    expect(result, diagnostics(c)).toMatchObject({ value: 'CONTINUE', by: 'call' });
    expect(job.final, diagnostics(c)).toMatchObject({ state: 'failed', failureReason: 'runner_interrupted' });
    expect(c.gitlab.managerDeletions[0]?.at ?? Number.POSITIVE_INFINITY).toBeLessThan(reclaimAt);
    expect(release(c, releaseAt)).toEqual([]);
  });

  it('rebalance recommendation: the instance keeps working until the group replaces it', async () => {
    const c = await launched();
    const before = await c.instance.manager.show(RUNNER_UNIT, ['MainPID']);
    await c.instance.imds.set({
      rebalance: { noticeTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
    });
    await sleep(3000);
    const job = await runJob(c, 'after-rebalance', 1);
    await waitFor('the job to end', () => job.final, 20_000);
    expect(job.final).toMatchObject({ state: 'success' });
    expect(await c.instance.manager.show(RUNNER_UNIT, ['MainPID'])).toEqual(before);
    expect(c.gitlab.managerDeletions).toEqual([]);
    const action = await terminate(c);
    const result = await released(action, 30_000);
    expect(result).toMatchObject({ value: 'CONTINUE', by: 'call' });
    expect(release(c, result.at)).toEqual([]);
  });

  it('IMDS answering 5xx and timing out: no false drain, and the real drain still completes', async () => {
    const c = await launched();
    const runner = await c.instance.manager.show(RUNNER_UNIT, ['MainPID']);
    await c.instance.imds.set({ fail_next: 6 });
    await sleep(4000);
    await c.instance.imds.set({ delay_seconds: 2 });
    await sleep(4000);
    await c.instance.imds.set({ delay_seconds: 0 });
    expect(await c.instance.manager.show(RUNNER_UNIT, ['MainPID'])).toEqual(runner);
    expect((await c.instance.manager.show(AGENT_UNIT, ['ActiveState'])).ActiveState).toBe('active');
    expect(c.gitlab.managerDeletions).toEqual([]);
    const job = await runJob(c, 'through-faults', 12);
    const action = await terminate(c);
    await c.instance.imds.set({ fail_next: 3 });
    const result = await released(action, 60_000);
    expect(result, diagnostics(c)).toMatchObject({ value: 'CONTINUE', by: 'call' });
    expect(job.final).toMatchObject({ state: 'success' });
    expect(release(c, result.at)).toEqual([]);
  });

  it('GitLab hanging on unregister: the drain still completes in bounded time', async () => {
    const c = await launched();
    c.gitlab.hangUnregister = true;
    const action = await terminate(c);
    const result = await released(action, 30_000);
    expect(result, diagnostics(c)).toMatchObject({ value: 'CONTINUE', by: 'call' });
    expect(c.gitlab.managerDeletions[0]?.hung).toBe(true);
    // RF_UNREGISTER_TIMEOUT_SECONDS=3 bounds the wait for GitLab.
    expect(result.at - (c.gitlab.managerDeletions[0]?.at ?? 0)).toBeLessThan(10_000);
  });

  it('agent killed mid-drain: systemd restarts it and it resumes the same drain and deadline', async () => {
    const c = await launched();
    const job = await runJob(c, 'survivor', 20);
    const action = await terminate(c);
    await waitFor('the drain to start', () => drainState(c).RF_DRAIN_DEADLINE, 20_000);
    const deadline = drainState(c).RF_DRAIN_DEADLINE;
    const agent = await c.instance.manager.show(AGENT_UNIT, ['MainPID']);
    const kill = await c.instance.manager.systemctl('kill', '--signal=SIGKILL', AGENT_UNIT);
    expect(kill.code).toBe(0);
    await waitFor(
      'systemd to restart the agent',
      async () => {
        const now = await c.instance.manager.show(AGENT_UNIT, ['MainPID', 'NRestarts']);
        return now.MainPID !== '0' && now.MainPID !== agent.MainPID && Number(now.NRestarts) >= 1;
      },
      20_000,
    );
    const result = await released(action, 60_000);
    c.releaseAt = result.at;
    expect(result, diagnostics(c)).toMatchObject({ value: 'CONTINUE', by: 'call' });
    expect(job.final).toMatchObject({ state: 'success' });
    expect(job.final?.at ?? Number.POSITIVE_INFINITY).toBeLessThan(result.at);
    expect(drainState(c).RF_DRAIN_DEADLINE).toBe(deadline);
    expect(release(c, result.at)).toEqual([]);
  });
});
