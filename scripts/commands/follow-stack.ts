/**
 * Follows a stack operation to its end: prints each new stack event as it
 * happens and polls with backoff (1 s growing to 5 s), so a finished operation
 * is noticed within seconds, not after a fixed 30-second wait.
 */

import { setTimeout as delay } from 'node:timers/promises';
import {
  type CloudFormationClient,
  DescribeStackEventsCommand,
  type Stack,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import { describeStack, isInProgress, newStackEvents } from '../aws/cloudformation.ts';
import type { Logger } from '../log.ts';
import { formatStackEvent } from '../render/events.ts';

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal ? { signal } : {});
  },
};

export const POLL_FIRST_DELAY_MS = 1_000;
export const POLL_MAX_DELAY_MS = 5_000;
const POLL_GROWTH = 1.5;

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
  const deadline = clock.now() + options.timeoutMs;
  const events: StackEvent[] = [];
  let wait = POLL_FIRST_DELAY_MS;
  for (;;) {
    options.signal?.throwIfAborted();
    const fresh = await readEvents(client, options);
    for (const event of fresh) log.info(formatStackEvent(event));
    events.push(...fresh);
    const stack = await describeStack(client, options.stackId, options.signal);
    const status = stack?.StackStatus ?? 'DELETE_COMPLETE';
    const notStartedYet = options.executedChangeSetId !== undefined && status === 'REVIEW_IN_PROGRESS';
    if (!isInProgress(status) && !notStartedYet) {
      // Events written between the last read and the final status still belong in the log.
      const last = await readEvents(client, options);
      for (const event of last) log.info(formatStackEvent(event));
      events.push(...last);
      return { stack, status, events, timedOut: false };
    }
    if (clock.now() >= deadline) return { stack, status, events, timedOut: true };
    await clock.sleep(Math.min(wait, Math.max(0, deadline - clock.now())), options.signal);
    wait = Math.min(wait * POLL_GROWTH, POLL_MAX_DELAY_MS);
  }
}

async function readEvents(client: CloudFormationClient, options: FollowOptions): Promise<StackEvent[]> {
  try {
    return await newStackEvents(client, options.stackId, options.seenEventIds, options.signal);
  } catch (error) {
    // A deleted stack has no events to read by id on some endpoints; the status check decides.
    if (error instanceof Error && /does not exist/.test(error.message)) return [];
    throw error;
  }
}

/** Marks the events that exist now as seen, so only new ones are printed. */
export async function markExistingEvents(
  client: CloudFormationClient,
  stackId: string,
  seenEventIds: Set<string>,
): Promise<void> {
  // The newest page is enough: reading later stops at the first seen event.
  const response = await client.send(new DescribeStackEventsCommand({ StackName: stackId }));
  for (const event of response.StackEvents ?? []) {
    if (event.EventId) seenEventIds.add(event.EventId);
  }
}
