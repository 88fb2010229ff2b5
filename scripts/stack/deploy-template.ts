/**
 * Deploys a template to a stack, top to bottom: bring the stack to a state a
 * deploy can start from, plan and create the change set and wait for it,
 * stop at "no changes", show the changes, execute, follow the stack to its
 * end, show the outputs. `deploy` runs it for a template file, `roll` for the
 * template the stack already runs.
 */
import type { CloudFormationClient, Output, Stack } from '@aws-sdk/client-cloudformation';
import { cancelUpdate, describeStack, SUCCESS_STATUSES } from '../aws/cloudformation.ts';
import type { ResolvedParameter } from '../config/stack-parameters.ts';
import type { LoadedTemplate } from '../config/template.ts';
import { InterruptedError, isRunnerFleetError, OperationError, withHint } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type Clock, systemClock } from '../poll.ts';
import { firstFailureReasons, formatChange } from '../render/events.ts';
import { isSecret } from '../secrets.ts';
import {
  type ComputedChangeSet,
  createAndAwait,
  discardAfterFailure,
  executeChangeSetOnce,
  logParameters,
  planChangeSet,
  type TemplateInput,
} from './change-set.ts';
import { type FollowResult, followStack, markExistingEvents } from './follow-stack.ts';
import { readyForDeploy } from './stack-state.ts';

export interface DeployRequest extends TemplateInput {
  /** Longest wait for the stack operation itself. */
  timeoutMinutes: number;
  /** Longest wait for an operation someone else started before this deploy. */
  waitForOtherOperationMinutes: number;
}

export interface StackDependencies {
  cloudFormation: CloudFormationClient;
  log: Logger;
  clock?: Clock;
  signal?: AbortSignal;
}

export type DeployOutcome = 'created' | 'updated' | 'no-changes';

export interface Deployed {
  outcome: DeployOutcome;
  /** The stack at the end, as its outputs were read. */
  stack: Stack | undefined;
  parameters: readonly ResolvedParameter[];
}

export async function deployTemplate(request: DeployRequest, deps: StackDependencies): Promise<Deployed> {
  const { cloudFormation: cfn, log, signal } = deps;
  const clock = deps.clock ?? systemClock;
  const started = clock.now();

  const stack = await readyForDeploy(cfn, log, await describeStack(cfn, request.stackName, signal), {
    stackName: request.stackName,
    waitMinutes: request.waitForOtherOperationMinutes,
    clock,
    signal,
  });
  const plan = planChangeSet('deploy', stack, request);
  log.info(
    `${plan.type === 'CREATE' ? 'Creating' : 'Updating'} stack ${request.stackName} from ${request.template.path}`,
  );
  if (request.template.compacted) {
    log.info(
      `Template is ${request.template.sourceBytes} bytes as written; sending it as compact JSON (${Buffer.byteLength(request.template.body)} bytes) to stay under CloudFormation's inline limit`,
    );
  }
  await logParameters(log, plan.resolution);

  const step = await createAndAwait(cfn, log, plan, { clock, ...(signal ? { signal } : {}) }).catch(
    (error: unknown) => {
      throw signal?.aborted ? new InterruptedError(`deploy of ${request.stackName} interrupted`) : error;
    },
  );

  let outcome: DeployOutcome = 'no-changes';
  let final = stack;
  if (step.kind === 'no-changes') {
    log.info(`No changes: stack ${request.stackName} is up to date.`);
  } else {
    const result = await executeAndFollow(cfn, log, step.changeSet, request.timeoutMinutes, clock, signal);
    log.info(
      `Stack ${request.stackName} ${result.status} in ${Math.round((clock.now() - started) / 1000)} s`,
    );
    outcome = plan.type === 'CREATE' ? 'created' : 'updated';
    final = result.stack;
  }
  await logOutputs(log, final?.Outputs ?? [], request.template, plan.resolution.parameters);
  return { outcome, stack: final, parameters: plan.resolution.parameters };
}

/**
 * Shows the changes, executes the change set and follows the stack to a
 * success status. Until the execute, a failure or an interruption discards
 * the change set; after it, an interruption cancels an update (a create
 * cannot be cancelled) and any other failure says the operation goes on.
 */
async function executeAndFollow(
  cfn: CloudFormationClient,
  log: Logger,
  changeSet: ComputedChangeSet,
  timeoutMinutes: number,
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<FollowResult> {
  const { stackName, type, pending, outcome } = changeSet;
  const seenEventIds = new Set<string>();
  try {
    await log.section('changes', `Changes (${outcome.changes.length})`, async () => {
      if (outcome.changes.length === 0) log.info('  (no resource changes; parameters or outputs only)');
      for (const change of outcome.changes) log.info(`  ${formatChange(change)}`);
    });
    await markExistingEvents(cfn, pending.stackId, seenEventIds);
    // Last point where an interruption costs nothing: the change set is simply discarded.
    signal?.throwIfAborted();
    await executeChangeSetOnce(
      cfn,
      log,
      { stackName, type },
      { changeSetId: pending.id, stackId: pending.stackId },
    );
  } catch (error) {
    const failure = await discardAfterFailure(cfn, log, { stackName, type }, pending, error, signal, clock);
    throw signal?.aborted ? new InterruptedError(`deploy of ${stackName} interrupted`) : failure;
  }
  log.info(`Executing change set ${changeSet.name}`);
  const goesOn = `the ${type === 'CREATE' ? 'creation' : 'update'} of ${stackName} goes on in CloudFormation: run deploy again to follow it, or check the stack events`;

  const result = await log.section('events', `Stack events for ${stackName}`, () =>
    followStack(cfn, log, clock, {
      stackId: pending.stackId,
      timeoutMs: timeoutMinutes * 60_000,
      seenEventIds,
      executedChangeSetId: pending.id,
      ...(signal ? { signal } : {}),
    }).catch(async (error: unknown) => {
      if (signal?.aborted) {
        await stopOperation(cfn, log, pending.stackId, stackName, type);
        throw new InterruptedError(`deploy of ${stackName} interrupted`);
      }
      // Losing sight of the stack does not stop it: say so, or the user thinks it failed.
      throw isRunnerFleetError(error) ? error : withHint(error, goesOn);
    }),
  );
  if (result.timedOut) {
    throw new OperationError(`stack ${stackName} is still ${result.status} after ${timeoutMinutes} minutes`, [
      'CloudFormation goes on without us: run deploy again to follow it, or raise --timeout-minutes',
    ]);
  }
  if (!SUCCESS_STATUSES.has(result.status)) {
    throw new OperationError(
      `stack ${stackName} ended in ${result.status}, not ${type === 'CREATE' ? 'CREATE_COMPLETE' : 'UPDATE_COMPLETE'}`,
      firstFailureReasons(result.events),
    );
  }
  return result;
}

async function stopOperation(
  cfn: CloudFormationClient,
  log: Logger,
  stackId: string,
  stackName: string,
  changeSetType: 'CREATE' | 'UPDATE',
): Promise<void> {
  if (changeSetType === 'CREATE') {
    log.warn(
      `interrupted: the creation of ${stackName} cannot be cancelled and goes on in CloudFormation; run deploy again to follow it, or delete the stack`,
    );
    return;
  }
  try {
    await cancelUpdate(cfn, stackId);
    log.warn(
      `interrupted: cancelled the update of ${stackName}; CloudFormation rolls it back to the previous version (UPDATE_ROLLBACK_COMPLETE). Run deploy again to retry.`,
    );
  } catch (error) {
    log.warn(
      `interrupted: could not cancel the update of ${stackName} (${(error as Error).message}); it goes on in CloudFormation, check the stack before deploying again`,
    );
  }
}

/**
 * NoEcho values given in this run must not leak through an output that echoes
 * them; values kept from an earlier deploy are unknown here, so outputs that
 * refer to a NoEcho parameter are masked by name (template.noEchoOutputs).
 */
export function secretValuesOf(parameters: readonly ResolvedParameter[]): string[] {
  return parameters.filter((p) => p.noEcho && p.value).map((p) => p.value ?? '');
}

async function logOutputs(
  log: Logger,
  outputs: readonly Output[],
  template: LoadedTemplate,
  parameters: readonly ResolvedParameter[],
): Promise<void> {
  if (outputs.length === 0) return;
  const secretValues = secretValuesOf(parameters);
  const hidden = (key: string, value: string) =>
    template.noEchoOutputs.has(key) ||
    isSecret(key, value) ||
    secretValues.some((secret) => value.includes(secret));
  await log.section('outputs', 'Outputs', async () => {
    for (const output of outputs) {
      const value = output.OutputValue ?? '';
      log.info(`  ${output.OutputKey} = ${hidden(output.OutputKey ?? '', value) ? '****' : value}`);
    }
  });
}
