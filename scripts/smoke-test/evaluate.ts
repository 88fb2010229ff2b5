/**
 * What the smoke test concludes from what it read: one JUnit check per
 * question asked of the fleet (capacity, each instance's runner manager, the
 * runner token's expiry, the canary pipeline), the log line of a check, and
 * the one-line-per-subject failure summary. Pure: the command
 * (commands/smoke-test.ts) reads AWS and GitLab and hands the answers in.
 */
import { type GroupCapacity, hasDesiredCapacity } from '../aws/auto-scaling.ts';
import { isPipelineFinished, type Pipeline, type PipelineJob } from '../gitlab/pipelines.ts';
import type { RunnerManager } from '../gitlab/runners.ts';
import { systemIdForInstance } from '../gitlab/system-id.ts';
import type { CheckResult } from '../render/junit.ts';

/** The variable a consumer's .gitlab-ci.yml keys its canary job on (see docs/cli.md). */
export const CANARY_VARIABLE = 'RUNNER_FLEET_CANARY';

/**
 * The gitlab-runner version to require: --expected-version (without a leading
 * v), else the stack parameter RunnerVersion unless that is "latest"; with
 * the line that tells the log which.
 */
export function expectedRunnerVersion(
  given: string | undefined,
  stackRunnerVersion: string | undefined,
): { version: string | undefined; note: string | undefined } {
  if (given) return { version: given.replace(/^v/, ''), note: undefined };
  if (stackRunnerVersion && stackRunnerVersion !== 'latest') {
    return {
      version: stackRunnerVersion,
      note: `Expecting gitlab-runner ${stackRunnerVersion} (stack parameter RunnerVersion)`,
    };
  }
  return {
    version: undefined,
    note: 'Runner version not checked: the stack installs "latest"; pass --expected-version to require one',
  };
}

const DAY_MS = 86_400_000;

/** The token-expiry check: fails inside the margin, skipped when GitLab does not tell. */
export function tokenExpiryResult(
  expiresAt: string | null | undefined,
  days: number,
  now: Date,
): CheckResult {
  const name = `runner token valid for more than ${days} days`;
  if (expiresAt === undefined) {
    return {
      classname: 'runner token',
      name,
      status: 'skipped',
      message:
        "GitLab does not report this runner's token expiry to the API token: set RUNNER_FLEET_RUNNER_TOKEN so it is read from POST /runners/verify",
    };
  }
  if (expiresAt === null) return { classname: 'runner token', name, status: 'passed' };
  const left = (Date.parse(expiresAt) - now.getTime()) / DAY_MS;
  if (left > days) return { classname: 'runner token', name, status: 'passed' };
  return {
    classname: 'runner token',
    name,
    status: 'failed',
    message:
      left <= 0
        ? `the runner token expired ${expiresAt}: run runner-fleet rotate-token with RUNNER_FLEET_GITLAB_TOKEN`
        : `the runner token expires ${expiresAt}, in ${Math.floor(left)} days: run runner-fleet rotate-token (the roll component's rotate_token_days does it on schedule)`,
  };
}

/** The group's capacity in one progress line: in service against desired, and the rest by state. */
export function capacityLine(capacity: GroupCapacity): string {
  const states = new Map<string, number>();
  for (const instance of capacity.others) {
    const state = `${instance.LifecycleState ?? 'unknown'}${instance.HealthStatus === 'Unhealthy' ? ' (unhealthy)' : ''}`;
    states.set(state, (states.get(state) ?? 0) + 1);
  }
  const rest = [...states].map(([state, count]) => `${count} ${state}`).join(', ');
  return `${capacity.inService.length} of ${capacity.desired} desired instance(s) in service${rest ? `; ${rest}` : ''}`;
}

export function capacityResult(groupName: string, capacity: GroupCapacity, seconds: number): CheckResult {
  const name = `group ${groupName} has its desired capacity (${capacity.desired}) in service`;
  if (hasDesiredCapacity(capacity)) return { classname: 'capacity', name, status: 'passed', seconds };
  return {
    classname: 'capacity',
    name,
    status: 'failed',
    message: `${capacityLine(capacity)} after the wait; see the group's activity history for failed launches`,
    seconds,
  };
}

export interface InstanceEvaluation {
  checks: CheckResult[];
  /** A later poll may pass: no manager yet, or no contact since the instance launched. */
  pending: boolean;
}

/** The four checks of one instance's runner manager. */
export function evaluateInstance(
  instanceId: string,
  launchTime: Date | undefined,
  manager: RunnerManager | undefined,
  runnerId: number,
  expectedVersion: string | undefined,
): InstanceEvaluation {
  const systemId = systemIdForInstance(instanceId);
  const check = (name: string, status: CheckResult['status'], message?: string): CheckResult => ({
    classname: instanceId,
    name,
    status,
    ...(message ? { message } : {}),
  });
  const foundName = `runner manager ${systemId} found`;
  const onlineName = 'runner manager online';
  const freshName = 'runner manager contacted GitLab after the instance launched';
  const versionName = expectedVersion ? `gitlab-runner ${expectedVersion}` : 'gitlab-runner version';

  if (!manager) {
    const skip = `no runner manager ${systemId}`;
    return {
      pending: true,
      checks: [
        check(
          foundName,
          'failed',
          `runner #${runnerId} has no manager ${systemId}: the runner on ${instanceId} has not contacted GitLab (see its bootstrap log)`,
        ),
        check(onlineName, 'skipped', skip),
        check(freshName, 'skipped', skip),
        check(versionName, 'skipped', skip),
      ],
    };
  }

  const contactedAt = manager.contacted_at ? new Date(manager.contacted_at) : undefined;
  const fresh = Boolean(contactedAt && launchTime && contactedAt.getTime() >= launchTime.getTime());
  const lastContact = manager.contacted_at ?? 'never';
  let freshCheck: CheckResult;
  if (!launchTime) {
    freshCheck = check(freshName, 'failed', `EC2 does not describe ${instanceId}: it no longer exists`);
  } else if (fresh) {
    freshCheck = check(freshName, 'passed');
  } else {
    freshCheck = check(
      freshName,
      'failed',
      `last contact ${lastContact} is before ${instanceId} launched at ${launchTime.toISOString()}: this manager record is from an earlier host`,
    );
  }

  const onlineCheck =
    manager.status === 'online'
      ? check(onlineName, 'passed')
      : check(
          onlineName,
          'failed',
          `runner manager ${systemId} is ${manager.status} (last contact ${lastContact})`,
        );

  let versionCheck: CheckResult;
  if (!expectedVersion) {
    versionCheck = check(
      versionName,
      'skipped',
      `no expected version; the manager runs ${manager.version ?? 'an unknown version'}`,
    );
  } else if ((manager.version ?? '').replace(/^v/, '') === expectedVersion) {
    versionCheck = check(versionName, 'passed');
  } else {
    versionCheck = check(
      versionName,
      'failed',
      `runner manager ${systemId} runs gitlab-runner ${manager.version ?? '(unknown)'}, expected ${expectedVersion}`,
    );
  }

  // Until the new host reports in, the record may be an earlier host's, or not contacted yet.
  const pending = Boolean(launchTime) && (!fresh || manager.status === 'never_contacted');
  return { pending, checks: [check(foundName, 'passed'), onlineCheck, freshCheck, versionCheck] };
}

/**
 * Whether polling the managers can stop: every instance settled, or one
 * failed for good (offline, stale, wrong version), which decides the run
 * whatever the others do.
 */
export function managersDecided(evaluations: readonly InstanceEvaluation[]): boolean {
  return (
    evaluations.every((e) => !e.pending) ||
    evaluations.some((e) => !e.pending && e.checks.some((c) => c.status === 'failed'))
  );
}

export function canarySkipped(why: string): CheckResult[] {
  return [{ classname: 'canary', name: 'canary pipeline', status: 'skipped', message: why }];
}

/** The canary pipeline's outcome: passed only on success; a failure names the jobs that failed. */
export function canaryStatusResult(
  pipeline: Pipeline,
  jobs: readonly PipelineJob[],
  canary: { ref: string; waitMinutes: number },
  seconds: number,
): CheckResult {
  const name = `canary pipeline on ${canary.ref} succeeded`;
  if (pipeline.status === 'success') return { classname: 'canary', name, seconds, status: 'passed' };
  return {
    classname: 'canary',
    name,
    seconds,
    status: 'failed',
    message: isPipelineFinished(pipeline.status)
      ? `canary pipeline #${pipeline.id} ended ${pipeline.status}${failedJobNames(jobs)}`
      : `canary pipeline #${pipeline.id} is still ${pipeline.status} after ${canary.waitMinutes} minutes`,
  };
}

function failedJobNames(jobs: readonly PipelineJob[]): string {
  const failed = jobs.filter((job) => job.status === 'failed').map((job) => job.name);
  return failed.length > 0 ? ` (failed: ${failed.join(', ')})` : '';
}

/** Every job that ran must have run on the fleet's runner, on one of the instances checked. */
export function canaryPlacement(
  jobs: readonly PipelineJob[],
  runnerId: number,
  instanceIds: readonly string[],
  pipelineId: number,
): CheckResult {
  const name = `canary jobs ran on runner #${runnerId} on this fleet's instances`;
  const fleet = new Set(instanceIds.map(systemIdForInstance));
  const ran = jobs.filter((job) => job.runner);
  if (ran.length === 0) {
    return {
      classname: 'canary',
      name,
      status: 'failed',
      message: `no job of canary pipeline #${pipelineId} was picked up by a runner: does the canary job run when ${CANARY_VARIABLE}=1, with the fleet's tags?`,
    };
  }
  const problems: string[] = [];
  for (const job of ran) {
    if (job.runner?.id !== runnerId) {
      problems.push(`job ${job.name} (#${job.id}) ran on runner #${job.runner?.id}, not #${runnerId}`);
    } else if (job.runner_manager && !fleet.has(job.runner_manager.system_id)) {
      problems.push(
        `job ${job.name} (#${job.id}) ran on runner manager ${job.runner_manager.system_id}, which is none of the instances checked`,
      );
    }
  }
  if (problems.length === 0) return { classname: 'canary', name, status: 'passed' };
  return { classname: 'canary', name, status: 'failed', message: problems.join('; ') };
}

/** A check as one log line: its mark, the instance it is about (if any), and why it failed. */
export function checkLine(check: CheckResult): string {
  const mark = check.status === 'passed' ? 'ok  ' : check.status === 'failed' ? 'FAIL' : 'skip';
  const subject =
    check.classname === 'capacity' || check.classname === 'canary' || check.classname === 'runner token'
      ? ''
      : `${check.classname} `;
  return `  ${mark} ${subject}${check.name}${check.status === 'failed' && check.message ? `: ${check.message}` : ''}`;
}

/** One line per failing subject: an instance's failures together, named by the instance. */
export function failureLines(failed: readonly CheckResult[]): string[] {
  const bySubject = new Map<string, string[]>();
  for (const check of failed) {
    const reasons = bySubject.get(check.classname) ?? [];
    reasons.push(check.message ?? check.name);
    bySubject.set(check.classname, reasons);
  }
  return [...bySubject].map(([subject, reasons]) => `${subject}: ${reasons.join('; ')}`);
}
