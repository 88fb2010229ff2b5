/**
 * `runner-fleet destroy`: deletes the fleet stack and waits for it, then
 * removes the runner managers its instances left behind. Instances unregister
 * themselves as they drain; this catches the ones that could not (killed,
 * failed hook). Orchestration only.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { S3Client } from '@aws-sdk/client-s3';
import { describeGroup, groupNameOfStack } from '../aws/auto-scaling.ts';
import { deleteStack, describeStack, isInProgress, stackResourceId } from '../aws/cloudformation.ts';
import { emptyBucket } from '../aws/s3.ts';
import { firstLine, InterruptedError, OperationError } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import { deleteManagerBySystemId, systemIdForInstance } from '../gitlab/runners.ts';
import type { Logger } from '../log.ts';
import { type Clock, systemClock } from '../poll.ts';
import { firstFailureReasons } from '../render/events.ts';
import { followStack, markExistingEvents } from '../stack/follow-stack.ts';

export interface DestroyOptions {
  stackName: string;
  timeoutMinutes: number;
}

export interface DestroyDependencies {
  cloudFormation: CloudFormationClient;
  autoScaling: AutoScalingClient;
  log: Logger;
  clock?: Clock;
  signal?: AbortSignal;
  /** Empties the stack's cache bucket; only asked when the stack has one. */
  s3: () => Promise<S3Client>;
  /** With the runner authentication token, leftover managers are removed. */
  runnerCleanup?: { client: GitLabClient; runnerToken: string };
}

export async function destroy(
  options: DestroyOptions,
  deps: DestroyDependencies,
): Promise<'deleted' | 'absent'> {
  const { log } = deps;
  const stack = await describeStack(deps.cloudFormation, options.stackName);
  if (!stack) {
    log.info(`Stack ${options.stackName} does not exist: nothing to delete.`);
    return 'absent';
  }
  if (isInProgress(stack.StackStatus) && stack.StackStatus !== 'DELETE_IN_PROGRESS') {
    throw new OperationError(
      `stack ${options.stackName} is ${stack.StackStatus}; destroy it when that has finished`,
    );
  }
  // Read the instances before they go: their ids name the runner managers to clean up.
  const group = await groupNameOfStack(deps.cloudFormation, stack)
    .then((groupName) => describeGroup(deps.autoScaling, groupName))
    .catch((error: unknown) => {
      log.warn(
        `could not read the fleet's instances (${firstLine(error)}); runner managers they leave behind will not be checked`,
      );
      return undefined;
    });
  const instanceIds = (group?.Instances ?? []).map((i) => i.InstanceId ?? '').filter(Boolean);

  const stackId = stack.StackId ?? options.stackName;
  const seen = new Set<string>();
  await markExistingEvents(deps.cloudFormation, stackId, seen);
  if (stack.StackStatus !== 'DELETE_IN_PROGRESS') {
    stopIfInterrupted(deps, options.stackName, 'nothing was deleted');
    const emptied = await emptyCacheBucket(deps, stackId);
    // The last moment a stop costs nothing: after DeleteStack the deletion cannot be called back.
    stopIfInterrupted(
      deps,
      options.stackName,
      emptied ? 'the stack was not deleted (its cache bucket was emptied)' : 'nothing was deleted',
    );
    log.info(
      `Deleting stack ${options.stackName}${instanceIds.length ? ` (${instanceIds.length} instance(s) drain and unregister first)` : ''}`,
    );
    await deleteStack(deps.cloudFormation, stackId);
  } else {
    log.info(`Stack ${options.stackName} is already being deleted; following it`);
  }
  const result = await followStack(deps.cloudFormation, log, deps.clock ?? systemClock, {
    stackId,
    timeoutMs: options.timeoutMinutes * 60_000,
    seenEventIds: seen,
    ...(deps.signal ? { signal: deps.signal } : {}),
  }).catch((error: unknown) => {
    if (deps.signal?.aborted) {
      log.warn(
        `interrupted: the deletion of ${options.stackName} goes on in CloudFormation; run destroy again to follow it`,
      );
      throw new InterruptedError(`destroy of ${options.stackName} interrupted`);
    }
    throw error;
  });
  if (result.timedOut) {
    throw new OperationError(
      `stack ${options.stackName} is still ${result.status} after ${options.timeoutMinutes} minutes`,
      ['instances may still be draining running jobs; run destroy again to follow it'],
    );
  }
  if (result.status !== 'DELETE_COMPLETE') {
    throw new OperationError(`stack ${options.stackName} ended in ${result.status}, not DELETE_COMPLETE`, [
      ...firstFailureReasons(result.events),
      `delete the resources named above by hand, or retain them: aws cloudformation delete-stack --stack-name ${options.stackName} --retain-resources ...`,
    ]);
  }
  log.info(`Stack ${options.stackName} DELETE_COMPLETE`);
  await removeLeftoverManagers(instanceIds, deps);
  return 'deleted';
}

async function removeLeftoverManagers(
  instanceIds: readonly string[],
  deps: DestroyDependencies,
): Promise<void> {
  if (instanceIds.length === 0) return;
  if (!deps.runnerCleanup) {
    deps.log.info(
      'Runner managers not checked: set RUNNER_FLEET_RUNNER_TOKEN (and the GitLab URL) to remove any the instances left behind',
    );
    return;
  }
  let removed = 0;
  for (const instanceId of instanceIds) {
    const systemId = systemIdForInstance(instanceId);
    const outcome = await deleteManagerBySystemId(
      deps.runnerCleanup.client,
      deps.runnerCleanup.runnerToken,
      systemId,
    );
    if (outcome === 'deleted') {
      removed += 1;
      deps.log.info(`Removed runner manager ${systemId} left behind by ${instanceId}`);
    }
  }
  deps.log.info(
    removed === 0
      ? `Every instance had unregistered its runner manager (${instanceIds.length} checked)`
      : `Removed ${removed} leftover runner manager(s) of ${instanceIds.length} instance(s)`,
  );
}

/** The stack's own cache bucket: CloudFormation cannot delete a bucket that still holds objects. */
const CACHE_BUCKET_LOGICAL_ID = 'CacheBucket';

/** Empties the stack's cache bucket; true when there was one. */
async function emptyCacheBucket(deps: DestroyDependencies, stackId: string): Promise<boolean> {
  const bucket = await stackResourceId(
    deps.cloudFormation,
    stackId,
    CACHE_BUCKET_LOGICAL_ID,
    'AWS::S3::Bucket',
  );
  if (!bucket) return false;
  const deleted = await emptyBucket(await deps.s3(), bucket);
  deps.log.info(`Emptied cache bucket ${bucket} (${deleted} object(s)) so the stack can delete it`);
  return true;
}

function stopIfInterrupted(deps: DestroyDependencies, stackName: string, state: string): void {
  if (deps.signal?.aborted) {
    throw new InterruptedError(`destroy of ${stackName} interrupted before DeleteStack: ${state}`);
  }
}
