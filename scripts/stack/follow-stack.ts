/**
 * Follows a stack operation to its end: prints each new stack event as it
 * happens and polls with backoff (0.5 s growing to 1.5 s), so a finished
 * operation is noticed within two seconds, not after a fixed 30-second wait.
 */

import type { CloudFormationClient, Stack, StackEvent } from '@aws-sdk/client-cloudformation';
import { describeStack, isInProgress, latestStackEventIds, newStackEvents } from '../aws/cloudformation.ts';
import { isStackMissing } from '../aws/errors.ts';
import type { Logger } from '../log.ts';
import { type Clock, pollUntil } from '../poll.ts';
import { formatStackEvent } from '../render/events.ts';

/**
 * Polling starts at once, then every 0.5 s growing to 1.5 s: an operation's
 * end is noticed at most 1.5 s (plus one round trip) after it happens, and a
 * long one costs at most two DescribeStacks calls every three seconds.
 */
export const POLL_FIRST_DELAY_MS = 500;
export const POLL_MAX_DELAY_MS = 1_500;

export interface FollowOptions {
  stackId: string;
  timeoutMs: number;
  seenEventIds: Set<string>;
  signal?: AbortSignal;
  /**
   * Set right after ExecuteChangeSet: a new stack can still read
   * REVIEW_IN_PROGRESS for a moment, which then means "not started yet".
   */
  executedChangeSetId?: string;
}

export interface FollowResult {
  /** The stack at the end, or undefined when it no longer exists (deleted). */
  stack: Stack | undefined;
  status: string;
  events: StackEvent[];
  timedOut: boolean;
}

export async function followStack(
  client: CloudFormationClient,
  log: Logger,
  clock: Clock,
  options: FollowOptions,
): Promise<FollowResult> {
  const events: StackEvent[] = [];
  const observe = async () => {
    const fresh = await readEvents(client, options);
    for (const event of fresh) log.info(formatStackEvent(event));
    events.push(...fresh);
    const stack = await describeStack(client, options.stackId, options.signal);
    return { stack, status: stack?.StackStatus ?? 'DELETE_COMPLETE' };
  };
  const finished = ({ status }: { status: string }) =>
    !isInProgress(status) && !(options.executedChangeSetId !== undefined && status === 'REVIEW_IN_PROGRESS');
  const { value, timedOut } = await pollUntil(observe, finished, {
    clock,
    deadline: clock.now() + options.timeoutMs,
    firstDelayMs: POLL_FIRST_DELAY_MS,
    maxDelayMs: POLL_MAX_DELAY_MS,
    signal: options.signal,
  });
  if (!timedOut) {
    // Events written between the last read and the final status still belong in the log.
    const last = await readEvents(client, options);
    for (const event of last) log.info(formatStackEvent(event));
    events.push(...last);
  }
  return { stack: value.stack, status: value.status, events, timedOut };
}

async function readEvents(client: CloudFormationClient, options: FollowOptions): Promise<StackEvent[]> {
  try {
    return await newStackEvents(client, options.stackId, options.seenEventIds, options.signal);
  } catch (error) {
    // A deleted stack has no events to read by id on some endpoints; the status check decides.
    if (isStackMissing(error)) return [];
    throw error;
  }
}

/** Marks the events that exist now as seen, so only new ones are printed. */
export async function markExistingEvents(
  client: CloudFormationClient,
  stackId: string,
  seenEventIds: Set<string>,
): Promise<void> {
  for (const id of await latestStackEventIds(client, stackId)) seenEventIds.add(id);
}
