/**
 * CloudFormation calls the commands share. Every function takes the client, so
 * tests hand in a mocked one; nothing here prints.
 */
import { randomUUID } from 'node:crypto';
import {
  CancelUpdateStackCommand,
  type Change,
  type CloudFormationClient,
  CreateChangeSetCommand,
  type CreateChangeSetCommandInput,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  paginateDescribeChangeSet,
  paginateDescribeStackEvents,
  paginateListChangeSets,
  paginateListStackResources,
  type Stack,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import { isAwsError, isStackMissing } from './errors.ts';

/** Only these end a stack operation successfully. Anything else is a failure. */
export const SUCCESS_STATUSES = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE']);

/** Stacks in these states need a person; the deployer stops with advice. */
export const STUCK_STATUS_ADVICE: Record<string, string> = {
  UPDATE_ROLLBACK_FAILED:
    'run `aws cloudformation continue-update-rollback --stack-name STACK` (add --resources-to-skip for resources that cannot roll back), wait for UPDATE_ROLLBACK_COMPLETE, then deploy again',
  DELETE_FAILED:
    'delete the stack with `aws cloudformation delete-stack --stack-name STACK --retain-resources ...` for the resources that failed to delete (see the stack events), then deploy again',
  ROLLBACK_FAILED:
    'delete the stack (retaining resources that cannot be deleted) with `aws cloudformation delete-stack --stack-name STACK`, then deploy again',
  CREATE_FAILED:
    'the stack was created with rollback disabled; delete it with `aws cloudformation delete-stack --stack-name STACK`, then deploy again',
  IMPORT_ROLLBACK_FAILED:
    'fix the resources named in the stack events, then `aws cloudformation continue-update-rollback --stack-name STACK`, then deploy again',
};

export function isInProgress(status: string | undefined): boolean {
  // REVIEW_IN_PROGRESS is a stack that exists only as a pending change set: nothing runs.
  return status?.endsWith('_IN_PROGRESS') === true && status !== 'REVIEW_IN_PROGRESS';
}

/** The value a stack holds for one of its parameters, as DescribeStacks gives it. */
export function stackParameterValue(stack: Stack | undefined, key: string): string | undefined {
  return stack?.Parameters?.find((p) => p.ParameterKey === key)?.ParameterValue;
}

export async function describeStack(
  client: CloudFormationClient,
  stackName: string,
  abortSignal?: AbortSignal,
): Promise<Stack | undefined> {
  try {
    const response = await client.send(new DescribeStacksCommand({ StackName: stackName }), { abortSignal });
    return response.Stacks?.[0];
  } catch (error) {
    if (isStackMissing(error)) return undefined;
    throw error;
  }
}

export async function createChangeSet(
  client: CloudFormationClient,
  input: CreateChangeSetCommandInput,
  abortSignal?: AbortSignal,
): Promise<{ changeSetId: string; stackId: string }> {
  const response = await client.send(new CreateChangeSetCommand(input), { abortSignal });
  return { changeSetId: response.Id ?? '', stackId: response.StackId ?? '' };
}

/**
 * A change set by its name, or undefined when there is none. After a
 * CreateChangeSet whose answer was lost, this tells whether it was made.
 */
export async function findChangeSet(
  client: CloudFormationClient,
  stackName: string,
  changeSetName: string,
): Promise<{ changeSetId: string; stackId: string; status: string } | undefined> {
  try {
    const response = await client.send(
      new DescribeChangeSetCommand({ StackName: stackName, ChangeSetName: changeSetName }),
    );
    if (!response.ChangeSetId) return undefined;
    return {
      changeSetId: response.ChangeSetId,
      stackId: response.StackId ?? '',
      status: response.Status ?? 'UNKNOWN',
    };
  } catch (error) {
    // No such change set, or no stack to hold one.
    if (isAwsError(error, 'ChangeSetNotFound') || isAwsError(error, 'ChangeSetNotFoundException')) {
      return undefined;
    }
    if (isAwsError(error, 'ValidationError')) return undefined;
    throw error;
  }
}

export interface ChangeSetOutcome {
  status: string;
  statusReason: string;
  executionStatus: string;
  changes: Change[];
  /** Every DescribeChangeSet page as returned (Parameters, with ResolvedValue, are on each). */
  pages: DescribeChangeSetCommandOutput[];
}

/** Matches AWS's reasons for a change set that would change nothing. */
export function isNoChangeReason(reason: string): boolean {
  return /didn't contain changes|No updates are to be performed/i.test(reason);
}

/** Change-set statuses that mean CloudFormation is still computing it. */
export function isChangeSetPending(status: string): boolean {
  return status === 'CREATE_PENDING' || status === 'CREATE_IN_PROGRESS';
}

/** One look at a change set's status, without reading its changes. */
export async function changeSetStatus(
  client: CloudFormationClient,
  stackName: string,
  changeSetId: string,
  abortSignal?: AbortSignal,
): Promise<{ status: string; executionStatus: string }> {
  const response = await client.send(
    new DescribeChangeSetCommand({ StackName: stackName, ChangeSetName: changeSetId }),
    { abortSignal },
  );
  return { status: response.Status ?? 'UNKNOWN', executionStatus: response.ExecutionStatus ?? '' };
}

export async function describeChangeSetFully(
  client: CloudFormationClient,
  stackName: string,
  changeSetId: string,
  options: { abortSignal?: AbortSignal; includePropertyValues?: boolean } = {},
): Promise<ChangeSetOutcome> {
  const pages: DescribeChangeSetCommandOutput[] = [];
  const paginator = paginateDescribeChangeSet(
    { client },
    {
      ChangeSetName: changeSetId,
      StackName: stackName,
      ...(options.includePropertyValues ? { IncludePropertyValues: true } : {}),
    },
  );
  for await (const page of paginator) pages.push(page);
  const first = pages[0];
  return {
    status: first?.Status ?? 'UNKNOWN',
    statusReason: first?.StatusReason ?? '',
    executionStatus: first?.ExecutionStatus ?? '',
    changes: pages.flatMap((page) => page.Changes ?? []),
    pages,
  };
}

/**
 * The request tokens below make a retried call (after a lost answer) the same
 * request to CloudFormation, so it is not done twice. They must be unique per
 * operation: one token per change set or per run.
 */
export async function executeChangeSet(
  client: CloudFormationClient,
  stackName: string,
  changeSetId: string,
  clientRequestToken: string,
): Promise<void> {
  await client.send(
    new ExecuteChangeSetCommand({
      ChangeSetName: changeSetId,
      StackName: stackName,
      ClientRequestToken: clientRequestToken,
    }),
  );
}

export async function deleteChangeSet(
  client: CloudFormationClient,
  stackName: string,
  changeSetId: string,
): Promise<void> {
  await client.send(new DeleteChangeSetCommand({ ChangeSetName: changeSetId, StackName: stackName }));
}

/** The ids of every change set a stack holds (a REVIEW_IN_PROGRESS stack holds only change sets). */
export async function changeSetIdsOf(client: CloudFormationClient, stackId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of paginateListChangeSets({ client }, { StackName: stackId })) {
    for (const summary of page.Summaries ?? []) if (summary.ChangeSetId) ids.push(summary.ChangeSetId);
  }
  return ids;
}

export async function deleteStack(
  client: CloudFormationClient,
  stackId: string,
  clientRequestToken: string = requestToken('delete'),
): Promise<void> {
  await client.send(new DeleteStackCommand({ StackName: stackId, ClientRequestToken: clientRequestToken }));
}

export async function cancelUpdate(client: CloudFormationClient, stackId: string): Promise<void> {
  await client.send(
    new CancelUpdateStackCommand({ StackName: stackId, ClientRequestToken: requestToken('cancel') }),
  );
}

/** CloudFormation request tokens: [a-zA-Z0-9-], at most 128; unique per operation. */
export function requestToken(purpose: string): string {
  return `runner-fleet-${purpose}-${randomUUID()}`;
}

export async function currentTemplateBody(client: CloudFormationClient, stackId: string): Promise<string> {
  const response = await client.send(
    new GetTemplateCommand({ StackName: stackId, TemplateStage: 'Original' }),
  );
  return response.TemplateBody ?? '';
}

/**
 * Returns the stack events not seen before, oldest first. Events come newest
 * first, so reading stops at the first page that reaches a seen event.
 */
export async function newStackEvents(
  client: CloudFormationClient,
  stackId: string,
  seenEventIds: Set<string>,
  abortSignal?: AbortSignal,
): Promise<StackEvent[]> {
  const fresh: StackEvent[] = [];
  const paginator = paginateDescribeStackEvents({ client }, { StackName: stackId });
  pages: for await (const page of paginator) {
    if (abortSignal?.aborted) break;
    for (const event of page.StackEvents ?? []) {
      const id =
        event.EventId ??
        `${event.LogicalResourceId}-${event.ResourceStatus}-${event.Timestamp?.toISOString()}`;
      if (seenEventIds.has(id)) break pages;
      seenEventIds.add(id);
      fresh.push(event);
    }
  }
  // Pages run newest first; reversed they read in the order things happened.
  return fresh.reverse();
}

/**
 * The ids of a stack's newest events, one page: enough to mark what exists
 * before an operation, since reading later stops at the first seen event.
 */
export async function latestStackEventIds(client: CloudFormationClient, stackId: string): Promise<string[]> {
  const response = await client.send(new DescribeStackEventsCommand({ StackName: stackId }));
  return (response.StackEvents ?? []).flatMap((event) => (event.EventId ? [event.EventId] : []));
}

/** The physical id of one resource of a stack, if the stack has it. */
export async function stackResourceId(
  client: CloudFormationClient,
  stackId: string,
  logicalId: string,
  type: string,
): Promise<string | undefined> {
  for await (const page of paginateListStackResources({ client }, { StackName: stackId })) {
    const found = page.StackResourceSummaries?.find(
      (resource) => resource.LogicalResourceId === logicalId && resource.ResourceType === type,
    );
    if (found) return found.PhysicalResourceId;
  }
  return undefined;
}
