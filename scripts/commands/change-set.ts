/**
 * The change-set steps `deploy` and `preview` share: naming, creating with
 * every parameter listed, logging the parameters, and discarding a change set
 * that will not be executed. Orchestration helpers; the AWS calls themselves
 * are in aws/cloudformation.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { CloudFormationClient, Stack, Tag } from '@aws-sdk/client-cloudformation';
import {
  type ChangeSetOutcome,
  changeSetIdsOf,
  changeSetStatus,
  createChangeSet,
  deleteChangeSet,
  deleteStack,
  describeChangeSetFully,
  describeStack,
  executeChangeSet,
  findChangeSet,
  isChangeSetPending,
  isInProgress,
  isNoChangeReason,
} from '../aws/cloudformation.ts';
import { isAwsError } from '../aws/errors.ts';
import {
  displayValue,
  type ParameterResolution,
  resolveParameters,
  toChangeSetParameters,
} from '../config/stack-parameters.ts';
import type { LoadedTemplate } from '../config/template.ts';
import { firstLine, InputError, OperationError, withHint } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type Clock, pollUntil, systemClock } from './poll.ts';

/** Creating a change set rarely takes more than a minute; ten allows for a busy account. */
export const CHANGE_SET_MAX_WAIT_SECONDS = 600;

/** A change set still being computed cannot be deleted; a minute is plenty for it to settle. */
const SETTLE_BEFORE_DELETE_MS = 60_000;

export type ChangeSetType = 'CREATE' | 'UPDATE';

export interface PendingChangeSet {
  id: string;
  stackId: string;
  /** No stack existed: the change set's REVIEW_IN_PROGRESS stack goes with it. */
  stackCreatedForIt: boolean;
}

/**
 * CREATE for a new stack (or one that only holds a change set), UPDATE
 * otherwise, with every declared parameter resolved for that type. Missing
 * required values are an input error listing all of them.
 */
export function planChangeSet(
  stack: Stack | undefined,
  template: LoadedTemplate,
  parameterValues: ReadonlyMap<string, string>,
): { type: ChangeSetType; resolution: ParameterResolution } {
  const type: ChangeSetType = stack && stack.StackStatus !== 'REVIEW_IN_PROGRESS' ? 'UPDATE' : 'CREATE';
  const resolution = resolveParameters(
    template.parameters,
    parameterValues,
    type === 'UPDATE' ? stack : undefined,
  );
  if (resolution.problems.length > 0) throw new InputError(resolution.problems);
  return { type, resolution };
}

/** Unique per run: some endpoints keep executed change sets, and two runs can start in one second. */
export function changeSetName(purpose: 'deploy' | 'preview', now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, 14);
  const prefix = purpose === 'deploy' ? 'runner-fleet' : 'runner-fleet-preview';
  return `${prefix}-${stamp}-${randomBytes(3).toString('hex')}`;
}

export async function logParameters(log: Logger, resolution: ParameterResolution): Promise<void> {
  await log.section(
    'parameters',
    'Parameters',
    async () => {
      for (const parameter of resolution.parameters) {
        log.info(`  ${parameter.key} = ${displayValue(parameter)}  [${parameter.source}]`);
      }
    },
    { collapsed: true },
  );
}

export interface ChangeSetRequest {
  stackName: string;
  name: string;
  type: ChangeSetType;
  template: LoadedTemplate;
  resolution: ParameterResolution;
  tags: ReadonlyMap<string, string>;
  description: string;
}

/**
 * Creates the change set, or says there is nothing to change. Deliberately
 * not abortable: an interrupted call could leave a change set whose id we
 * never learn. The ClientToken makes the SDK's retry of a call whose answer
 * was lost the same request to CloudFormation; where an endpoint ignores it
 * (the retry then finds the name taken) or every try failed, the change set
 * is looked up by its name, which is unique to this run. CloudFormation's
 * ValidationError here means the template or a parameter was refused: bad
 * input, exit 2, unless the stack changed under us (another deploy).
 */
export async function createChangeSetFor(
  cfn: CloudFormationClient,
  request: ChangeSetRequest,
  log?: Logger,
): Promise<{ changeSetId: string; stackId: string } | 'no-changes'> {
  try {
    return await createChangeSet(cfn, {
      StackName: request.stackName,
      ChangeSetName: request.name,
      ChangeSetType: request.type,
      TemplateBody: request.template.body,
      Parameters: toChangeSetParameters(request.resolution.parameters),
      Capabilities: request.template.capabilities,
      // No tags keeps the stack's tags; an empty list would remove them all.
      ...(request.tags.size > 0 ? { Tags: toTags(request.tags) } : {}),
      Description: request.description,
      ClientToken: request.name,
    });
  } catch (error) {
    const made = await findChangeSet(cfn, request.stackName, request.name).catch(() => undefined);
    if (made) {
      log?.info(
        `CreateChangeSet answered ${(error as Error).name}, but change set ${request.name} exists: using it`,
      );
      return { changeSetId: made.changeSetId, stackId: made.stackId };
    }
    if (isAwsError(error, 'ValidationError') && isNoChangeReason(error.message)) {
      // Some endpoints refuse an unchanged update at once instead of failing the change set.
      return 'no-changes';
    }
    const race = await concurrentChange(cfn, request);
    if (race) throw withHint(error, race);
    if (isAwsError(error, 'ValidationError')) {
      throw new InputError(`CloudFormation rejected the request: ${firstLine(error)}`);
    }
    throw error;
  }
}

/**
 * Says so when the stack is no longer as this run planned it: another deploy
 * (or a person) got there first. Read from the stack's state, not from the
 * error text, which differs between AWS and emulators.
 */
export async function concurrentChange(
  cfn: CloudFormationClient,
  request: { stackName: string; type: ChangeSetType },
  ourStackId?: string,
): Promise<string | undefined> {
  const now = await describeStack(cfn, request.stackName).catch(() => undefined);
  if (!now || now.StackStatus === 'DELETE_COMPLETE') return undefined;
  const status = now.StackStatus ?? '';
  // A stack of this name with another id was made by someone else; ours in
  // REVIEW_IN_PROGRESS only holds our own change set.
  const someoneElses = ourStackId !== undefined && now.StackId !== undefined && now.StackId !== ourStackId;
  const ownReview = ourStackId !== undefined && now.StackId === ourStackId && status === 'REVIEW_IN_PROGRESS';
  const startedElsewhere = someoneElses || isInProgress(status) || (request.type === 'CREATE' && !ownReview);
  if (!startedElsewhere) return undefined;
  return `stack ${request.stackName} is now ${status || 'present'}: another deploy (or a person) is changing it at the same time; give the deploy jobs one resource_group so they run one after another, then run deploy again`;
}

/**
 * Waits for CloudFormation to compute a change set, then reads all of it.
 * Not the SDK waiter: it retries every error but ValidationError for its
 * whole wait, so an AccessDenied (or any other refusal) sat silent for ten
 * minutes. Here an error ends the wait at once, naming the call; throttling
 * and timeouts are retried within the client's bounds (aws/retry.ts).
 */
export async function waitForChangeSet(
  cfn: CloudFormationClient,
  stackName: string,
  changeSetId: string,
  options: {
    maxWaitSeconds: number;
    abortSignal?: AbortSignal;
    includePropertyValues?: boolean;
    clock?: Clock;
  },
): Promise<ChangeSetOutcome> {
  const clock = options.clock ?? systemClock;
  const { value, timedOut } = await pollUntil(
    () => changeSetStatus(cfn, stackName, changeSetId, options.abortSignal),
    (state) => !isChangeSetPending(state.status),
    {
      clock,
      deadline: clock.now() + options.maxWaitSeconds * 1000,
      firstDelayMs: CHANGE_SET_POLL_FIRST_DELAY_MS,
      maxDelayMs: CHANGE_SET_POLL_MAX_DELAY_MS,
      signal: options.abortSignal,
    },
  );
  if (timedOut) {
    throw new OperationError(
      `change set ${changeSetId} of ${stackName} is still ${value.status} after ${Math.round(options.maxWaitSeconds / 60)} minutes`,
      ['CloudFormation is slow to compute it; run again later'],
    );
  }
  return describeChangeSetFully(cfn, stackName, changeSetId, options);
}

/**
 * Executes a change set. The request token makes the SDK's retry of a call
 * whose answer was lost the same request; where an endpoint ignores the
 * token, the retry is refused because the change set already runs, and its
 * execution status says so.
 */
export async function executeChangeSetOnce(
  cfn: CloudFormationClient,
  log: Logger,
  request: { stackName: string; type: ChangeSetType },
  created: { changeSetId: string; stackId: string },
): Promise<void> {
  const { changeSetId } = created;
  try {
    await executeChangeSet(cfn, request.stackName, changeSetId, `runner-fleet-execute-${randomUUID()}`);
  } catch (error) {
    const state = await changeSetStatus(cfn, request.stackName, changeSetId).catch(() => undefined);
    if (state && STARTED_EXECUTION.has(state.executionStatus)) {
      log.info(
        `ExecuteChangeSet answered ${(error as Error).name}, but the change set is ${state.executionStatus}: following it`,
      );
      return;
    }
    const race = await concurrentChange(cfn, request, created.stackId);
    throw race ? withHint(error, race) : error;
  }
}

const STARTED_EXECUTION = new Set(['EXECUTE_IN_PROGRESS', 'EXECUTE_COMPLETE', 'EXECUTE_FAILED']);

/** A small change set is ready in a second or two; a large one in tens of seconds. */
const CHANGE_SET_POLL_FIRST_DELAY_MS = 500;
const CHANGE_SET_POLL_MAX_DELAY_MS = 3_000;

/**
 * Whether the REVIEW_IN_PROGRESS stack made for our change set holds nothing
 * else. Two deploys of a new stack at once share one stack (a second CREATE
 * change set attaches to the REVIEW_IN_PROGRESS stack): deleting it would take
 * the other deploy's change set, or its stack once executed, with it. When in
 * doubt (the stack moved on, or it cannot be listed) the stack is kept and
 * only our change set goes.
 */
async function holdsOnlyOurChangeSet(
  cfn: CloudFormationClient,
  log: Logger,
  stackName: string,
  pending: PendingChangeSet,
): Promise<boolean> {
  try {
    const stack = await describeStack(cfn, pending.stackId);
    if (!stack || stack.StackStatus === 'DELETE_COMPLETE') return false;
    if (stack.StackStatus !== 'REVIEW_IN_PROGRESS') {
      log.info(
        `${stackName} is ${stack.StackStatus} now (another deploy executed its change set): keeping it`,
      );
      return false;
    }
    const others = (await changeSetIdsOf(cfn, pending.stackId)).filter((id) => id !== pending.id);
    if (others.length > 0) {
      log.info(`${stackName} holds another deploy's change set too: keeping the stack, deleting only ours`);
      return false;
    }
    return true;
  } catch (error) {
    log.warn(
      `could not check what ${stackName} holds (${firstLine(error)}): keeping the stack, deleting only our change set`,
    );
    return false;
  }
}

/**
 * Removes a change set that will not be executed. For a new stack the empty
 * REVIEW_IN_PROGRESS stack that holds it is deleted, which takes the change
 * set with it; otherwise the change set is deleted once it has settled
 * (one still being computed cannot be deleted). Never throws: it runs on
 * error and interruption paths, where the first error is the one to report.
 */
export async function discardChangeSet(
  cfn: CloudFormationClient,
  log: Logger,
  stackName: string,
  pending: PendingChangeSet,
  timing: { settleMs: number; retryMs: number } = { settleMs: SETTLE_BEFORE_DELETE_MS, retryMs: 2_000 },
): Promise<void> {
  if (pending.stackCreatedForIt && (await holdsOnlyOurChangeSet(cfn, log, stackName, pending))) {
    // Deleting the stack removes its change sets on AWS; some emulators keep them, so
    // try the change set first, but never let its failure (still computing) stop the stack delete.
    await deleteChangeSet(cfn, stackName, pending.id).catch(() => undefined);
    try {
      await deleteStack(cfn, pending.stackId);
      log.info(`Deleted the pending change set and the empty stack ${stackName} that held it`);
      return;
    } catch (error) {
      log.warn(`could not delete the empty stack ${stackName}: ${firstLine(error)}`);
    }
  }
  const deadline = Date.now() + timing.settleMs;
  for (;;) {
    try {
      await deleteChangeSet(cfn, stackName, pending.id);
      log.info(`Deleted the pending change set of ${stackName}; the stack was not changed`);
      return;
    } catch (error) {
      const settling = await stillComputing(cfn, stackName, pending.id);
      if (!settling || Date.now() >= deadline) {
        log.warn(
          `could not delete change set ${pending.id} of ${stackName}: ${firstLine(error)}; delete it with aws cloudformation delete-change-set --stack-name ${stackName} --change-set-name ${pending.id}`,
        );
        return;
      }
      await delay(timing.retryMs);
    }
  }
}

async function stillComputing(cfn: CloudFormationClient, stackName: string, id: string): Promise<boolean> {
  try {
    const described = await describeChangeSetFully(cfn, stackName, id);
    return isChangeSetPending(described.status);
  } catch {
    return false;
  }
}

export function toTags(tags: ReadonlyMap<string, string>): Tag[] {
  return [...tags].map(([Key, Value]) => ({ Key, Value }));
}
