/**
 * The change-set step `deploy`, `preview` and `roll` share: naming, creating
 * with every parameter listed, waiting for CloudFormation to compute it,
 * deciding "no changes", executing, and discarding a change set that will not
 * be executed. The AWS calls themselves are in aws/cloudformation.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { CloudFormationClient, Stack, Tag } from '@aws-sdk/client-cloudformation';
import {
  type ChangeSetOutcome,
  changeSetIdsOf,
  changeSetStatus,
  createChangeSet,
  currentTemplateBody,
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
import { parseCloudFormationDocument } from '../config/cfn-yaml.ts';
import {
  displayValue,
  type ParameterResolution,
  type ResolvedParameter,
  resolveParameters,
  toChangeSetParameters,
} from '../config/stack-parameters.ts';
import type { LoadedTemplate } from '../config/template.ts';
import { firstLine, InputError, isRunnerFleetError, OperationError, withHint } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type Clock, pollUntil, systemClock } from '../poll.ts';

/** Creating a change set rarely takes more than a minute; ten allows for a busy account. */
export const CHANGE_SET_MAX_WAIT_SECONDS = 600;

/** A change set still being computed cannot be deleted; a minute is plenty for it to settle. */
const SETTLE_BEFORE_DELETE_MS = 60_000;
/** Between tries to delete a change set that is still settling. */
const DELETE_RETRY_MS = 2_000;

export type ChangeSetType = 'CREATE' | 'UPDATE';

export interface PendingChangeSet {
  id: string;
  stackId: string;
  /** No stack existed: the change set's REVIEW_IN_PROGRESS stack goes with it. */
  stackCreatedForIt: boolean;
}

export type ChangeSetPurpose = 'deploy' | 'preview';

/** Unique per run: some endpoints keep executed change sets, and two runs can start in one second. */
export function changeSetName(purpose: ChangeSetPurpose, now: Date): string {
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

/** What a deploy or a preview asks of a stack. */
export interface TemplateInput {
  stackName: string;
  template: LoadedTemplate;
  parameterValues: ReadonlyMap<string, string>;
  tags: ReadonlyMap<string, string>;
}

/** What createAndAwait needs: the plan for one stack, and the stack as it was read (undefined: none). */
export interface ChangeSetPlan {
  purpose: ChangeSetPurpose;
  stackName: string;
  stack: Stack | undefined;
  type: ChangeSetType;
  template: LoadedTemplate;
  resolution: ParameterResolution;
  tags: ReadonlyMap<string, string>;
}

/**
 * CREATE for a new stack (or one that only holds a change set), UPDATE
 * otherwise, with every declared parameter resolved for that type. Missing
 * required values are an input error listing all of them.
 */
export function planChangeSet(
  purpose: ChangeSetPurpose,
  stack: Stack | undefined,
  input: TemplateInput,
): ChangeSetPlan {
  const type: ChangeSetType = stack && stack.StackStatus !== 'REVIEW_IN_PROGRESS' ? 'UPDATE' : 'CREATE';
  const resolution = resolveParameters(
    input.template.parameters,
    input.parameterValues,
    type === 'UPDATE' ? stack : undefined,
  );
  if (resolution.problems.length > 0) throw new InputError(resolution.problems);
  return {
    purpose,
    stackName: input.stackName,
    stack,
    type,
    template: input.template,
    resolution,
    tags: input.tags,
  };
}

/** A change set CloudFormation has computed, with changes in it; not executed yet. */
export interface ComputedChangeSet {
  name: string;
  stackName: string;
  type: ChangeSetType;
  pending: PendingChangeSet;
  outcome: ChangeSetOutcome;
}

export type ChangeSetResult =
  /** Nothing to change; outcome is undefined when CloudFormation refused the change set at once. */
  | { kind: 'no-changes'; name: string; outcome: ChangeSetOutcome | undefined }
  | { kind: 'changes'; changeSet: ComputedChangeSet };

/**
 * The change-set step from start to end: creates the change set, waits for
 * CloudFormation to compute it and checks how it ended. Returns "no changes"
 * (the one place that decides it; the change set is already discarded), or
 * the computed change set, which the caller then executes, keeps or
 * discards. On any failure on the way the change set is discarded before the
 * error goes up, with the race hint when another deploy moved the stack.
 */
export async function createAndAwait(
  cfn: CloudFormationClient,
  log: Logger,
  plan: ChangeSetPlan,
  options: { clock?: Clock; signal?: AbortSignal; includePropertyValues?: boolean } = {},
): Promise<ChangeSetResult> {
  const clock = options.clock ?? systemClock;
  const { signal } = options;
  const name = changeSetName(plan.purpose, new Date(clock.now()));
  const created = await createChangeSetFor(
    cfn,
    {
      stackName: plan.stackName,
      name,
      type: plan.type,
      template: plan.template,
      resolution: plan.resolution,
      tags: plan.tags,
      description: `runner-fleet ${plan.purpose} of ${plan.template.path}`,
    },
    log,
  );
  if (created === 'no-changes') return { kind: 'no-changes', name, outcome: undefined };
  const pending: PendingChangeSet = {
    id: created.changeSetId,
    stackId: created.stackId,
    stackCreatedForIt: plan.type === 'CREATE' && !plan.stack,
  };
  try {
    log.info(`Change set ${name} created; waiting for CloudFormation to compute it`);
    const outcome = await waitForChangeSet(cfn, plan.stackName, created.changeSetId, {
      maxWaitSeconds: CHANGE_SET_MAX_WAIT_SECONDS,
      clock,
      ...(signal ? { abortSignal: signal } : {}),
      ...(options.includePropertyValues ? { includePropertyValues: true } : {}),
    });
    signal?.throwIfAborted();
    if (await changesNothing(cfn, plan, outcome)) {
      await discardChangeSet(cfn, log, plan.stackName, pending, clock);
      return { kind: 'no-changes', name, outcome };
    }
    if (outcome.status !== 'CREATE_COMPLETE') {
      throw new OperationError(`change set for ${plan.stackName} ended in ${outcome.status}`, [
        outcome.statusReason || 'CloudFormation gave no reason',
      ]);
    }
    return {
      kind: 'changes',
      changeSet: { name, stackName: plan.stackName, type: plan.type, pending, outcome },
    };
  } catch (error) {
    throw await discardAfterFailure(
      cfn,
      log,
      { stackName: plan.stackName, type: plan.type },
      pending,
      error,
      signal,
      clock,
    );
  }
}

/**
 * Discards a change set that a failure left behind and returns the error to
 * throw: with the race hint when the stack was moved from under us (another
 * deploy can pull it away before any step of ours runs). An interruption is
 * passed on as it is, for the command to report.
 */
export async function discardAfterFailure(
  cfn: CloudFormationClient,
  log: Logger,
  request: { stackName: string; type: ChangeSetType },
  pending: PendingChangeSet,
  error: unknown,
  signal: AbortSignal | undefined,
  clock: Clock,
): Promise<unknown> {
  await discardChangeSet(cfn, log, request.stackName, pending, clock);
  if (signal?.aborted || isRunnerFleetError(error)) return error;
  const race = await concurrentChange(cfn, request, pending.stackId);
  return race ? withHint(error, race) : error;
}

/**
 * Whether a computed change set would change nothing: CloudFormation failed
 * it for having no changes, or (some endpoints accept an empty change set
 * instead of failing it) a deploy's update holds no change and the stack
 * already runs this template with these values. A preview reports an empty
 * change set as it is; a deploy must not execute it as a needless update.
 */
async function changesNothing(
  cfn: CloudFormationClient,
  plan: ChangeSetPlan,
  outcome: ChangeSetOutcome,
): Promise<boolean> {
  if (outcome.status === 'FAILED') return isNoChangeReason(outcome.statusReason);
  return (
    plan.purpose === 'deploy' &&
    outcome.status === 'CREATE_COMPLETE' &&
    plan.type === 'UPDATE' &&
    plan.stack !== undefined &&
    outcome.changes.length === 0 &&
    (await sameAsDeployed(cfn, plan.stack, plan.template.body, plan.resolution.parameters))
  );
}

/** True when the stack already runs this exact template with these exact given values. */
async function sameAsDeployed(
  cfn: CloudFormationClient,
  stack: Stack,
  templateBody: string,
  parameters: readonly ResolvedParameter[],
): Promise<boolean> {
  const deployedBody = await currentTemplateBody(cfn, stack.StackId ?? stack.StackName ?? '');
  if (!sameDocument(deployedBody, templateBody)) return false;
  const deployed = new Map((stack.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue]));
  return parameters.every(
    (parameter) =>
      parameter.source === 'previous' ||
      (!parameter.noEcho && sameValue(deployed.get(parameter.key), parameter.value)),
  );
}

/**
 * AWS returns list parameters as "a,b"; an endpoint that accepts empty change
 * sets (the only case that reaches this check) may return "['a', 'b']".
 */
function sameValue(deployed: string | undefined, given: string | undefined): boolean {
  if (deployed === given) return true;
  if (deployed === undefined || given === undefined || !deployed.startsWith('[')) return false;
  const items = deployed
    .slice(1, -1)
    .split(',')
    .map((item) => item.trim().replace(/^'(.*)'$/, '$1'));
  return items.join(',') === given;
}

/** Same template whatever its layout: endpoints may hand back YAML sent as JSON or re-serialised. */
function sameDocument(a: string, b: string): boolean {
  if (a.trim() === b.trim()) return true;
  try {
    return JSON.stringify(parseCloudFormationDocument(a)) === JSON.stringify(parseCloudFormationDocument(b));
  } catch {
    return false;
  }
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
  clock: Clock = systemClock,
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
  const deadline = clock.now() + SETTLE_BEFORE_DELETE_MS;
  for (;;) {
    try {
      await deleteChangeSet(cfn, stackName, pending.id);
      log.info(`Deleted the pending change set of ${stackName}; the stack was not changed`);
      return;
    } catch (error) {
      const settling = await stillComputing(cfn, stackName, pending.id);
      if (!settling || clock.now() >= deadline) {
        log.warn(
          `could not delete change set ${pending.id} of ${stackName}: ${firstLine(error)}; delete it with aws cloudformation delete-change-set --stack-name ${stackName} --change-set-name ${pending.id}`,
        );
        return;
      }
      // No signal: this runs on the interruption path too, and must finish its clean-up.
      await clock.sleep(DELETE_RETRY_MS);
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
