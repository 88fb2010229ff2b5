/**
 * What a stack's state allows, decided in one place before any change set:
 * the stuck states that need a person, an operation still running, and the
 * empty ROLLBACK_COMPLETE stack a failed first create leaves behind.
 */
import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';
import { deleteStack, isInProgress, STUCK_STATUS_ADVICE } from '../aws/cloudformation.ts';
import { InterruptedError, OperationError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Clock } from '../poll.ts';
import { firstFailureReasons } from '../render/events.ts';
import { followStack, markExistingEvents } from './follow-stack.ts';

/** The advice for a stuck status, naming the stack; empty for a status that is not stuck. */
export function stuckAdvice(status: string, stackName: string): string {
  return (STUCK_STATUS_ADVICE[status] ?? '').replaceAll('STACK', stackName);
}

/** The one stuck-status check: a stack in one of these states needs a person first. */
export function refuseStuck(stack: Stack | undefined, stackName: string, cannotBe: string): void {
  const status = stack?.StackStatus;
  if (!status || !STUCK_STATUS_ADVICE[status]) return;
  throw new OperationError(`stack ${stackName} is ${status} and cannot be ${cannotBe}`, [
    stuckAdvice(status, stackName),
  ]);
}

/** A change set cannot be made for a stack that is busy or stuck; say what to do instead. */
export function checkPreviewable(stack: Stack | undefined, stackName: string): void {
  const status = stack?.StackStatus;
  if (!status) return;
  if (isInProgress(status)) {
    throw new OperationError(`stack ${stackName} is ${status}: another operation is running`, [
      'run preview again when it has finished',
    ]);
  }
  refuseStuck(stack, stackName, 'previewed');
  if (status === 'ROLLBACK_COMPLETE') {
    throw new OperationError(`stack ${stackName} is ROLLBACK_COMPLETE (its first create failed)`, [
      'deploy deletes it and creates it again; there is nothing to compare a change set with until then',
    ]);
  }
}

export interface ReadyOptions {
  stackName: string;
  /** Longest wait for an operation someone else started, and for deleting a failed first create. */
  waitMinutes: number;
  clock: Clock;
  signal?: AbortSignal | undefined;
}

/**
 * Brings the stack to a state a deploy can start from: waits for an
 * operation already running, refuses a stuck stack, and deletes the empty
 * stack a failed first create left. Returns the stack as it is then
 * (undefined when there is none).
 */
export async function readyForDeploy(
  cfn: CloudFormationClient,
  log: Logger,
  stack: Stack | undefined,
  options: ReadyOptions,
): Promise<Stack | undefined> {
  const settled = await waitForOtherOperation(cfn, log, stack, options);
  refuseStuck(settled, options.stackName, 'deployed to');
  return clearFailedFirstCreate(cfn, log, settled, options);
}

async function waitForOtherOperation(
  cfn: CloudFormationClient,
  log: Logger,
  stack: Stack | undefined,
  options: ReadyOptions,
): Promise<Stack | undefined> {
  if (!stack || !isInProgress(stack.StackStatus)) return stack;
  log.info(
    `Stack ${options.stackName} is ${stack.StackStatus}: waiting up to ${options.waitMinutes} minutes for that operation to end`,
  );
  const seen = new Set<string>();
  await markExistingEvents(cfn, stack.StackId ?? options.stackName, seen);
  const result = await followStack(cfn, log, options.clock, {
    stackId: stack.StackId ?? options.stackName,
    timeoutMs: options.waitMinutes * 60_000,
    seenEventIds: seen,
    ...(options.signal ? { signal: options.signal } : {}),
  }).catch((error: unknown) => {
    if (options.signal?.aborted)
      throw new InterruptedError('interrupted while waiting for another stack operation');
    throw error;
  });
  if (result.timedOut) {
    throw new OperationError(
      `stack ${options.stackName} is still ${result.status} after ${options.waitMinutes} minutes`,
      ['another deploy or a person is changing it; run deploy again when it has finished'],
    );
  }
  log.info(`Stack ${options.stackName} is now ${result.status}`);
  return result.stack;
}

/**
 * A first create that failed leaves ROLLBACK_COMPLETE: an empty stack that can
 * only be deleted. Delete it and create afresh, as an operator would.
 */
async function clearFailedFirstCreate(
  cfn: CloudFormationClient,
  log: Logger,
  stack: Stack | undefined,
  options: ReadyOptions,
): Promise<Stack | undefined> {
  if (stack?.StackStatus !== 'ROLLBACK_COMPLETE') return stack;
  const stackId = stack.StackId ?? options.stackName;
  log.info(
    `Stack ${options.stackName} is ROLLBACK_COMPLETE (its first create failed): deleting it to create it again`,
  );
  const seen = new Set<string>();
  await markExistingEvents(cfn, stackId, seen);
  await deleteStack(cfn, stackId);
  const result = await followStack(cfn, log, options.clock, {
    stackId,
    timeoutMs: options.waitMinutes * 60_000,
    seenEventIds: seen,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (result.status !== 'DELETE_COMPLETE') {
    throw new OperationError(
      `could not delete the failed stack ${options.stackName}: it is ${result.status}`,
      [...firstFailureReasons(result.events), stuckAdvice('DELETE_FAILED', options.stackName)],
    );
  }
  return undefined;
}
