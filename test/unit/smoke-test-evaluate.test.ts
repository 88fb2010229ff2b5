/**
 * The smoke test's pure evaluation (scripts/smoke-test/evaluate.ts), branch
 * by branch: what each answer from AWS or GitLab makes of a check. The
 * command around it is tested in smoke-test.test.ts (mocked AWS, GitLab
 * double) and test/integration/smoke-test.test.ts.
 */
import type { Instance } from '@aws-sdk/client-auto-scaling';
import { describe, expect, it } from 'vitest';
import type { Pipeline, PipelineJob } from '../../scripts/gitlab/pipelines.ts';
import type { RunnerManager } from '../../scripts/gitlab/runners.ts';
import { systemIdForInstance } from '../../scripts/gitlab/system-id.ts';
import type { CheckResult } from '../../scripts/render/junit.ts';
import {
  CANARY_VARIABLE,
  canaryPlacement,
  canaryStatusResult,
  capacityLine,
  capacityResult,
  checkLine,
  evaluateInstance,
  expectedRunnerVersion,
  failureLines,
  type InstanceEvaluation,
  managersDecided,
} from '../../scripts/smoke-test/evaluate.ts';
import { runnerManager } from '../support/runner-manager.ts';

const INSTANCE = 'i-0aaaaaaaaaaaaaaa1';
const OTHER = 'i-0bbbbbbbbbbbbbbb2';
const LAUNCHED = new Date('2026-11-28T10:00:00Z');
const RUNNER = 42;

function manager(overrides: Partial<RunnerManager> = {}): RunnerManager {
  return runnerManager({
    system_id: systemIdForInstance(INSTANCE),
    version: '18.5.0',
    created_at: '2026-11-28T10:01:00Z',
    contacted_at: '2026-11-28T10:02:00Z',
    ...overrides,
  });
}

const LETTER = { passed: 'p', failed: 'f', skipped: 's' } as const;
const statuses = (evaluation: InstanceEvaluation) => evaluation.checks.map((c) => LETTER[c.status]).join('');

describe('evaluateInstance', () => {
  // The four checks in order (found, online, fresh, version): p passed, f failed, s skipped.
  it.each([
    ['online, fresh, expected version', manager(), '18.5.0', 'pppp', false],
    ['a v-prefixed version matches', manager({ version: 'v18.5.0' }), '18.5.0', 'pppp', false],
    ['another version', manager({ version: '18.4.1' }), '18.5.0', 'pppf', false],
    ['no expected version', manager(), undefined, 'ppps', false],
    ['offline', manager({ status: 'offline' }), '18.5.0', 'pfpp', false],
    ['never contacted', manager({ status: 'never_contacted', contacted_at: null }), '18.5.0', 'pffp', true],
    ['contact before the launch', manager({ contacted_at: '2026-11-28T09:00:00Z' }), '18.5.0', 'ppfp', true],
    ['no manager', undefined, '18.5.0', 'fsss', true],
  ] as const)('%s', (_name, found, expected, want, pending) => {
    const evaluation = evaluateInstance(INSTANCE, LAUNCHED, found, RUNNER, expected);
    expect(statuses(evaluation)).toEqual(want);
    expect(evaluation.pending).toBe(pending);
    expect(evaluation.checks.every((c) => c.classname === INSTANCE)).toBe(true);
  });

  it('says why each check failed', () => {
    const missing = evaluateInstance(INSTANCE, LAUNCHED, undefined, RUNNER, '18.5.0');
    expect(missing.checks[0]?.message).toBe(
      `runner #42 has no manager ${systemIdForInstance(INSTANCE)}: the runner on ${INSTANCE} has not contacted GitLab (see its bootstrap log)`,
    );
    const stale = evaluateInstance(
      INSTANCE,
      LAUNCHED,
      manager({ status: 'stale', contacted_at: '2026-11-27T10:00:00Z', version: null }),
      RUNNER,
      '18.5.0',
    );
    expect(stale.checks.map((c) => c.message)).toEqual([
      undefined,
      `runner manager ${systemIdForInstance(INSTANCE)} is stale (last contact 2026-11-27T10:00:00Z)`,
      `last contact 2026-11-27T10:00:00Z is before ${INSTANCE} launched at 2026-11-28T10:00:00.000Z: this manager record is from an earlier host`,
      `runner manager ${systemIdForInstance(INSTANCE)} runs gitlab-runner (unknown), expected 18.5.0`,
    ]);
  });

  it('fails, without waiting, an instance EC2 no longer describes', () => {
    const gone = evaluateInstance(INSTANCE, undefined, manager(), RUNNER, '18.5.0');
    expect(gone.pending).toBe(false);
    expect(gone.checks[2]).toMatchObject({
      status: 'failed',
      message: `EC2 does not describe ${INSTANCE}: it no longer exists`,
    });
  });
});

describe('managersDecided', () => {
  const settled = evaluateInstance(INSTANCE, LAUNCHED, manager(), RUNNER, '18.5.0');
  const waiting = evaluateInstance(OTHER, LAUNCHED, undefined, RUNNER, '18.5.0');
  const failedForGood = evaluateInstance(OTHER, LAUNCHED, manager({ status: 'offline' }), RUNNER, '18.5.0');

  it('goes on while an instance is pending and nothing has failed for good', () => {
    expect(managersDecided([settled, waiting])).toBe(false);
  });
  it('stops when every instance settled, or one failed for good', () => {
    expect(managersDecided([settled, settled])).toBe(true);
    expect(managersDecided([waiting, failedForGood])).toBe(true);
  });
});

describe('capacity', () => {
  const instance = (
    id: string,
    LifecycleState: Instance['LifecycleState'],
    HealthStatus: string,
  ): Instance => ({
    InstanceId: id,
    AvailabilityZone: 'eu-west-1a',
    ProtectedFromScaleIn: false,
    LifecycleState,
    HealthStatus,
  });
  const inService = instance(INSTANCE, 'InService', 'Healthy');
  const pending = instance(OTHER, 'Pending', 'Healthy');
  const unhealthy = instance(OTHER, 'InService', 'Unhealthy');

  it('counts the instances that are not in service by state', () => {
    expect(capacityLine({ desired: 3, inService: [inService], others: [pending, unhealthy, pending] })).toBe(
      '1 of 3 desired instance(s) in service; 2 Pending, 1 InService (unhealthy)',
    );
    expect(capacityLine({ desired: 1, inService: [inService], others: [] })).toBe(
      '1 of 1 desired instance(s) in service',
    );
  });

  it('passes at the desired capacity and fails short of it', () => {
    expect(capacityResult('fleet', { desired: 1, inService: [inService], others: [] }, 4)).toEqual({
      classname: 'capacity',
      name: 'group fleet has its desired capacity (1) in service',
      status: 'passed',
      seconds: 4,
    });
    expect(
      capacityResult('fleet', { desired: 2, inService: [inService], others: [pending] }, 9),
    ).toMatchObject({
      status: 'failed',
      message:
        "1 of 2 desired instance(s) in service; 1 Pending after the wait; see the group's activity history for failed launches",
    });
  });
});

describe('expectedRunnerVersion', () => {
  it.each([
    ['v18.5.0', '18.4.0', '18.5.0', undefined],
    [undefined, '18.4.0', '18.4.0', 'Expecting gitlab-runner 18.4.0 (stack parameter RunnerVersion)'],
    [undefined, 'latest', undefined, 'Runner version not checked'],
    [undefined, undefined, undefined, 'Runner version not checked'],
  ] as const)('given %s, stack %s', (given, stack, version, note) => {
    const result = expectedRunnerVersion(given, stack);
    expect(result.version).toBe(version);
    if (note === undefined) expect(result.note).toBeUndefined();
    else expect(result.note).toContain(note);
  });
});

describe('canary', () => {
  const job = (overrides: Partial<PipelineJob>): PipelineJob => ({
    id: 7,
    name: 'canary',
    status: 'success',
    runner: { id: RUNNER },
    runner_manager: { id: 1, system_id: systemIdForInstance(INSTANCE) },
    ...overrides,
  });
  const pipeline = (status: string): Pipeline => ({ id: 99, status }) as Pipeline;

  it('passes jobs that ran on the fleet runner on an instance checked', () => {
    expect(
      canaryPlacement([job({}), job({ runner_manager: undefined })], RUNNER, [INSTANCE], 99).status,
    ).toBe('passed');
  });

  it('names each job that ran elsewhere, and a pipeline no runner picked up', () => {
    const elsewhere = canaryPlacement(
      [job({ runner: { id: 5 } }), job({ id: 8, runner_manager: { id: 2, system_id: 's_000000000000' } })],
      RUNNER,
      [INSTANCE],
      99,
    );
    expect(elsewhere.message).toBe(
      'job canary (#7) ran on runner #5, not #42; job canary (#8) ran on runner manager s_000000000000, which is none of the instances checked',
    );
    const unpicked = canaryPlacement([job({ runner: null })], RUNNER, [INSTANCE], 99);
    expect(unpicked.status).toBe('failed');
    expect(unpicked.message).toContain(`when ${CANARY_VARIABLE}=1`);
  });

  it('passes a successful pipeline, names the failed jobs, and tells a pipeline still running', () => {
    const canary = { ref: 'main', waitMinutes: 10 };
    expect(canaryStatusResult(pipeline('success'), [], canary, 30)).toEqual({
      classname: 'canary',
      name: 'canary pipeline on main succeeded',
      seconds: 30,
      status: 'passed',
    });
    expect(
      canaryStatusResult(pipeline('failed'), [job({ status: 'failed', name: 'build' })], canary, 30).message,
    ).toBe('canary pipeline #99 ended failed (failed: build)');
    expect(canaryStatusResult(pipeline('failed'), [], canary, 30).message).toBe(
      'canary pipeline #99 ended failed',
    );
    expect(canaryStatusResult(pipeline('running'), [], canary, 600).message).toBe(
      'canary pipeline #99 is still running after 10 minutes',
    );
  });
});

describe('report lines', () => {
  const failed: CheckResult[] = [
    { classname: INSTANCE, name: 'runner manager online', status: 'failed', message: 'offline' },
    { classname: INSTANCE, name: 'gitlab-runner 18.5.0', status: 'failed' },
    {
      classname: 'capacity',
      name: 'group fleet has its desired capacity (2) in service',
      status: 'failed',
      message: 'short',
    },
  ];

  it('marks each check, names the instance it is about, and gives the reason of a failure only', () => {
    expect(checkLine(failed[0] as CheckResult)).toBe(`  FAIL ${INSTANCE} runner manager online: offline`);
    expect(checkLine(failed[2] as CheckResult)).toBe(
      '  FAIL group fleet has its desired capacity (2) in service: short',
    );
    expect(checkLine({ classname: 'canary', name: 'x', status: 'skipped', message: 'why' })).toBe('  skip x');
    expect(checkLine({ classname: 'runner token', name: 'y', status: 'passed' })).toBe('  ok   y');
  });

  it('puts the failures of one subject on one line, the check name standing in for a missing message', () => {
    expect(failureLines(failed)).toEqual([`${INSTANCE}: offline; gitlab-runner 18.5.0`, 'capacity: short']);
  });
});
