/**
 * The change-set steps `deploy` and `preview` share: naming, creating with
 * every parameter listed, logging the parameters, and discarding a change set
 * that will not be executed. Orchestration helpers; the AWS calls themselves
 * are in aws/cloudformation.ts.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { CloudFormationClient, Stack, Tag } from '@aws-sdk/client-cloudformation';
import {
  createChangeSet,
  deleteChangeSet,
  deleteStack,
  describeChangeSetFully,
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
import { firstLine, InputError } from '../errors.ts';
import type { Logger } from '../log.ts';

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

/** Unique per run: some endpoints keep executed change sets, and two runs can start in one second. */
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
 * never learn. CloudFormation's ValidationError here means the template or a
 * parameter was refused: bad input, exit 2.
 */
export async function createChangeSetFor(
  cfn: CloudFormationClient,
  request: ChangeSetRequest,
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
    });
  } catch (error) {
    if (isAwsError(error, 'ValidationError')) {
      // Some endpoints refuse an unchanged update at once instead of failing the change set.
      if (isNoChangeReason(error.message)) return 'no-changes';
      throw new InputError(`CloudFormation rejected the request: ${firstLine(error)}`);
    }
    throw error;
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
  if (pending.stackCreatedForIt) {
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
    return described.status === 'CREATE_PENDING' || described.status === 'CREATE_IN_PROGRESS';
  } catch {
    return false;
  }
}

export function toTags(tags: ReadonlyMap<string, string>): Tag[] {
  return [...tags].map(([Key, Value]) => ({ Key, Value }));
}
