import { writeFile } from 'node:fs/promises';
import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';
import {
  cancelUpdate,
  currentTemplateBody,
  deleteStack,
  describeStack,
  isInProgress,
  isNoChangeReason,
  STUCK_STATUS_ADVICE,
  SUCCESS_STATUSES,
} from '../aws/cloudformation.ts';
import { parseCloudFormationDocument } from '../config/cfn-yaml.ts';
import type { ResolvedParameter } from '../config/stack-parameters.ts';
import type { LoadedTemplate } from '../config/template.ts';
import { InterruptedError, isRunnerFleetError, OperationError, withHint } from '../errors.ts';
import type { Logger } from '../log.ts';
import { renderOutputsDotenv } from '../render/dotenv.ts';
import { firstFailureReasons, formatChange } from '../render/events.ts';
import { isSecret } from '../secrets.ts';
import {
  CHANGE_SET_MAX_WAIT_SECONDS,
  changeSetName,
  concurrentChange,
  createChangeSetFor,
  discardChangeSet,
  executeChangeSetOnce,
  logParameters,
  type PendingChangeSet,
  planChangeSet,
  waitForChangeSet,
} from './change-set.ts';
import { type Clock, followStack, markExistingEvents, systemClock } from './follow-stack.ts';

export interface DeployOptions {
  stackName: string;
  template: LoadedTemplate;
  parameterValues: ReadonlyMap<string, string>;
  tags: ReadonlyMap<string, string>;
  outputsDotenv: string | undefined;
  /** Longest wait for the stack operation itself. */
  timeoutMinutes: number;
  /** Longest wait for an operation someone else started before this deploy. */
  waitForOtherOperationMinutes: number;
}

export interface DeployDependencies {
  cloudFormation: CloudFormationClient;
  log: Logger;
  clock?: Clock;
  signal?: AbortSignal;
}

export type DeployOutcome = 'created' | 'updated' | 'no-changes';

export async function deploy(options: DeployOptions, deps: DeployDependencies): Promise<DeployOutcome> {
  const { cloudFormation: cfn, log } = deps;
  const clock = deps.clock ?? systemClock;
  const signal = deps.signal;
  const started = clock.now();

  let stack = await describeStack(cfn, options.stackName, signal);
  stack = await waitForOtherOperation(stack, options, deps, clock);
  stack = await clearFailedFirstCreate(stack, options, deps, clock);

  const { type: changeSetType, resolution } = planChangeSet(stack, options.template, options.parameterValues);

  log.info(
    `${changeSetType === 'CREATE' ? 'Creating' : 'Updating'} stack ${options.stackName} from ${options.template.path}`,
  );
  if (options.template.compacted) {
    log.info(
      `Template is ${options.template.sourceBytes} bytes as written; sending it as compact JSON (${Buffer.byteLength(options.template.body)} bytes) to stay under CloudFormation's inline limit`,
    );
  }
  await logParameters(log, resolution);

  const name = changeSetName('deploy', new Date(clock.now()));
  let pendingChangeSet: PendingChangeSet | undefined;

  try {
    const created = await createChangeSetFor(
      cfn,
      {
        stackName: options.stackName,
        name,
        type: changeSetType,
        template: options.template,
        resolution,
        tags: options.tags,
        description: `runner-fleet deploy of ${options.template.path}`,
      },
      log,
    );
    if (created === 'no-changes') {
      log.info(`No changes: stack ${options.stackName} is up to date.`);
      await writeOutputs(stack, options, resolution.parameters, log);
      return 'no-changes';
    }
    pendingChangeSet = {
      id: created.changeSetId,
      stackId: created.stackId,
      stackCreatedForIt: changeSetType === 'CREATE' && !stack,
    };
    log.info(`Change set ${name} created; waiting for CloudFormation to compute it`);

    const outcome = await waitForChangeSet(cfn, options.stackName, created.changeSetId, {
      maxWaitSeconds: CHANGE_SET_MAX_WAIT_SECONDS,
      clock,
      ...(signal ? { abortSignal: signal } : {}),
    });

    if (outcome.status === 'FAILED' && isNoChangeReason(outcome.statusReason)) {
      await discardChangeSet(cfn, log, options.stackName, pendingChangeSet);
      pendingChangeSet = undefined;
      log.info(`No changes: stack ${options.stackName} is up to date.`);
      await writeOutputs(stack, options, resolution.parameters, log);
      return 'no-changes';
    }
    if (outcome.status !== 'CREATE_COMPLETE') {
      throw new OperationError(`change set for ${options.stackName} ended in ${outcome.status}`, [
        outcome.statusReason || 'CloudFormation gave no reason',
      ]);
    }
    if (
      changeSetType === 'UPDATE' &&
      stack &&
      outcome.changes.length === 0 &&
      (await sameAsDeployed(cfn, stack, options.template.body, resolution.parameters))
    ) {
      // Some endpoints accept an empty change set instead of failing it; same template
      // and same parameters is still "no changes".
      await discardChangeSet(cfn, log, options.stackName, pendingChangeSet);
      pendingChangeSet = undefined;
      log.info(`No changes: stack ${options.stackName} is up to date.`);
      await writeOutputs(stack, options, resolution.parameters, log);
      return 'no-changes';
    }

    await log.section('changes', `Changes (${outcome.changes.length})`, async () => {
      if (outcome.changes.length === 0) log.info('  (no resource changes; parameters or outputs only)');
      for (const change of outcome.changes) log.info(`  ${formatChange(change)}`);
    });

    const seenEventIds = new Set<string>();
    await markExistingEvents(cfn, created.stackId, seenEventIds);
    // Last point where an interruption costs nothing: the change set is simply discarded.
    signal?.throwIfAborted();
    await executeChangeSetOnce(cfn, log, { stackName: options.stackName, type: changeSetType }, created);
    pendingChangeSet = undefined;
    log.info(`Executing change set ${name}`);
    const goesOn = `the ${changeSetType === 'CREATE' ? 'creation' : 'update'} of ${options.stackName} goes on in CloudFormation: run deploy again to follow it, or check the stack events`;

    const result = await log.section('events', `Stack events for ${options.stackName}`, () =>
      followStack(cfn, log, clock, {
        stackId: created.stackId,
        timeoutMs: options.timeoutMinutes * 60_000,
        seenEventIds,
        executedChangeSetId: created.changeSetId,
        ...(signal ? { signal } : {}),
      }).catch(async (error: unknown) => {
        if (signal?.aborted) {
          await stopOperation(cfn, log, created.stackId, options.stackName, changeSetType);
          throw error;
        }
        // Losing sight of the stack does not stop it: say so, or the user thinks it failed.
        throw isRunnerFleetError(error) ? error : withHint(error, goesOn);
      }),
    );

    if (result.timedOut) {
      throw new OperationError(
        `stack ${options.stackName} is still ${result.status} after ${options.timeoutMinutes} minutes`,
        ['CloudFormation goes on without us: run deploy again to follow it, or raise --timeout-minutes'],
      );
    }
    if (!SUCCESS_STATUSES.has(result.status)) {
      throw new OperationError(
        `stack ${options.stackName} ended in ${result.status}, not ${changeSetType === 'CREATE' ? 'CREATE_COMPLETE' : 'UPDATE_COMPLETE'}`,
        firstFailureReasons(result.events),
      );
    }
    const seconds = Math.round((clock.now() - started) / 1000);
    log.info(`Stack ${options.stackName} ${result.status} in ${seconds} s`);
    await writeOutputs(result.stack, options, resolution.parameters, log).catch((error: unknown) => {
      throw withHint(
        error,
        `stack ${options.stackName} is ${result.status}; only the outputs were not written`,
      );
    });
    return changeSetType === 'CREATE' ? 'created' : 'updated';
  } catch (error) {
    const pending = pendingChangeSet;
    if (pending) await discardChangeSet(cfn, log, options.stackName, pending);
    if (signal?.aborted) {
      throw new InterruptedError(`deploy of ${options.stackName} interrupted`);
    }
    if (pending && !isRunnerFleetError(error)) {
      // Another deploy can pull the stack from under any step before ours runs.
      const race = await concurrentChange(
        cfn,
        { stackName: options.stackName, type: changeSetType },
        pending.stackId,
      );
      if (race) throw withHint(error, race);
    }
    throw error;
  }
}

async function waitForOtherOperation(
  stack: Stack | undefined,
  options: DeployOptions,
  deps: DeployDependencies,
  clock: Clock,
): Promise<Stack | undefined> {
  if (!stack || !isInProgress(stack.StackStatus)) return stack;
  const { log, cloudFormation: cfn } = deps;
  log.info(
    `Stack ${options.stackName} is ${stack.StackStatus}: waiting up to ${options.waitForOtherOperationMinutes} minutes for that operation to end`,
  );
  const seen = new Set<string>();
  await markExistingEvents(cfn, stack.StackId ?? options.stackName, seen);
  const result = await followStack(cfn, log, clock, {
    stackId: stack.StackId ?? options.stackName,
    timeoutMs: options.waitForOtherOperationMinutes * 60_000,
    seenEventIds: seen,
    ...(deps.signal ? { signal: deps.signal } : {}),
  }).catch((error: unknown) => {
    if (deps.signal?.aborted)
      throw new InterruptedError('interrupted while waiting for another stack operation');
    throw error;
  });
  if (result.timedOut) {
    throw new OperationError(
      `stack ${options.stackName} is still ${result.status} after ${options.waitForOtherOperationMinutes} minutes`,
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
  stack: Stack | undefined,
  options: DeployOptions,
  deps: DeployDependencies,
  clock: Clock,
): Promise<Stack | undefined> {
  if (!stack?.StackStatus) return stack;
  const advice = STUCK_STATUS_ADVICE[stack.StackStatus];
  if (advice) {
    throw new OperationError(`stack ${options.stackName} is ${stack.StackStatus} and cannot be deployed to`, [
      advice.replaceAll('STACK', options.stackName),
    ]);
  }
  if (stack.StackStatus !== 'ROLLBACK_COMPLETE') return stack;
  const { log, cloudFormation: cfn } = deps;
  const stackId = stack.StackId ?? options.stackName;
  log.info(
    `Stack ${options.stackName} is ROLLBACK_COMPLETE (its first create failed): deleting it to create it again`,
  );
  const seen = new Set<string>();
  await markExistingEvents(cfn, stackId, seen);
  await deleteStack(cfn, stackId);
  const result = await followStack(cfn, log, clock, {
    stackId,
    timeoutMs: options.waitForOtherOperationMinutes * 60_000,
    seenEventIds: seen,
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  if (result.status !== 'DELETE_COMPLETE') {
    throw new OperationError(
      `could not delete the failed stack ${options.stackName}: it is ${result.status}`,
      [
        ...firstFailureReasons(result.events),
        (STUCK_STATUS_ADVICE.DELETE_FAILED ?? '').replaceAll('STACK', options.stackName),
      ],
    );
  }
  return undefined;
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

async function writeOutputs(
  stack: Stack | undefined,
  options: DeployOptions,
  parameters: readonly ResolvedParameter[],
  log: Logger,
): Promise<void> {
  const outputs = stack?.Outputs ?? [];
  // NoEcho values given in this run must not leak through an output that echoes them;
  // values kept from an earlier deploy are unknown here, so outputs that refer to a
  // NoEcho parameter are masked by name (template.noEchoOutputs).
  const secretValues = parameters.filter((p) => p.noEcho && p.value).map((p) => p.value ?? '');
  const echoing = options.template.noEchoOutputs;
  const hidden = (key: string, value: string) =>
    echoing.has(key) || isSecret(key, value) || secretValues.some((secret) => value.includes(secret));
  if (outputs.length > 0) {
    await log.section('outputs', 'Outputs', async () => {
      for (const output of outputs) {
        const value = output.OutputValue ?? '';
        log.info(`  ${output.OutputKey} = ${hidden(output.OutputKey ?? '', value) ? '****' : value}`);
      }
    });
  }
  if (!options.outputsDotenv) return;
  const dotenv = renderOutputsDotenv(outputs, secretValues, echoing);
  for (const skipped of dotenv.skipped) {
    log.warn(`output ${skipped.key} left out of the dotenv report: ${skipped.why}`);
  }
  await writeFile(options.outputsDotenv, dotenv.text, { mode: 0o644 });
  log.info(`Wrote ${dotenv.written.length} output(s) to ${options.outputsDotenv}`);
}
