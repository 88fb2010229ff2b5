/**
 * Which GitLab runner is the fleet's, for the commands that look at its
 * managers (smoke-test, status, roll) or must not run on it (roll, destroy).
 * Three sources, asked in this order, the first that knows wins:
 *
 * 1. --runner-id: no call at all.
 * 2. The glrt- token in RUNNER_FLEET_RUNNER_TOKEN: POST /runners/verify.
 * 3. The id create-runner recorded as the `runner-fleet:runner-id` tag of
 *    the SSM parameter the stack's RunnerTokenParameterName names: one
 *    ListTagsForResource, never the token's value, no GitLab call. A fleet
 *    whose runner create-runner made has no token in any CI variable, so
 *    this is how its later jobs find the runner without a hand-copied id.
 *
 * Given sources come before the recorded one: a person who passes an id or a
 * token means that runner.
 */
import type { Stack } from '@aws-sdk/client-cloudformation';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { RUNNER_ID_TAG, recordedRunner, tokenParameterOfStack } from '../aws/runner-token-parameter.ts';
import { firstLine } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import { resolveRunnerId } from '../gitlab/runners.ts';
import type { Logger } from '../log.ts';

export interface FleetRunnerSources {
  runnerIdFlag: number | undefined;
  runnerToken: string | undefined;
  /** For POST /runners/verify (it needs no API token); undefined when no GitLab address is known. */
  gitlab: GitLabClient | undefined;
  /** The fleet's stack, read only when the first two sources do not answer. */
  stack: () => Promise<Stack | undefined>;
  ssm: () => Promise<SSMClient>;
  log: Logger;
}

export interface FleetRunner {
  id: number;
  /** Where the id came from, for the progress line. */
  from: string;
  /** ISO time the token expires, null for never; undefined when the source did not say. */
  tokenExpiresAt?: string | null;
}

/** The fleet's runner; undefined when no source knows it (the caller says what to pass). */
export async function findFleetRunner(sources: FleetRunnerSources): Promise<FleetRunner | undefined> {
  if (sources.runnerIdFlag !== undefined) return { id: sources.runnerIdFlag, from: '--runner-id' };
  if (sources.runnerToken && sources.gitlab) {
    const resolved = await resolveRunnerId(sources.gitlab, sources.runnerToken);
    return {
      id: resolved.id,
      from: 'the token in RUNNER_FLEET_RUNNER_TOKEN',
      tokenExpiresAt: resolved.tokenExpiresAt,
    };
  }
  return recordedFleetRunner(sources);
}

/**
 * Memoised findFleetRunner, for a command that needs the answer in more than
 * one step. A failed lookup is not kept: the next step asks again, so one
 * passing 5xx that a step could shrug off does not fail a later one.
 */
export function fleetRunnerOnce(sources: FleetRunnerSources): () => Promise<FleetRunner | undefined> {
  let answer: Promise<FleetRunner | undefined> | undefined;
  return () => {
    answer ??= findFleetRunner(sources).catch((error: unknown) => {
      answer = undefined;
      throw error;
    });
    return answer;
  };
}

async function recordedFleetRunner(sources: FleetRunnerSources): Promise<FleetRunner | undefined> {
  const parameterName = tokenParameterOfStack(await sources.stack());
  if (!parameterName) return undefined;
  try {
    const record = await recordedRunner(await sources.ssm(), parameterName);
    if (record?.runnerId === undefined) return undefined;
    return {
      id: record.runnerId,
      from: `tag ${RUNNER_ID_TAG} of SSM parameter ${parameterName}, recorded by create-runner`,
      ...(record.tokenExpiresAt !== undefined ? { tokenExpiresAt: record.tokenExpiresAt } : {}),
    };
  } catch (error) {
    sources.log.warn(`could not read the runner id recorded on ${parameterName}: ${firstLine(error)}`);
    return undefined;
  }
}

/** What to pass when no source knows the runner. */
export const NO_FLEET_RUNNER_HINT =
  'pass --runner-id, set RUNNER_FLEET_RUNNER_TOKEN, or create the runner with create-runner (it records the id on the token parameter)';
