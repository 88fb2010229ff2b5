/**
 * `runner-fleet reconcile`: makes GitLab's runner managers match the fleet's
 * instances. Removes the managers of instances that are gone or terminated
 * (killed hosts that could not unregister), reports managers that are
 * offline while their instance is InService (a host whose runner is broken)
 * and, when asked, marks that instance unhealthy so the group replaces it.
 * The decisions are in reconcile-plan.ts; this is orchestration only.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { describeGroup, groupNameOfStack } from '../aws/auto-scaling.ts';
import { describeStack } from '../aws/cloudformation.ts';
import { markInstanceUnhealthy } from '../aws/instance-health.ts';
import {
  describeRunnerToken,
  readRunnerToken,
  tokenParameterOfStack,
} from '../aws/runner-token-parameter.ts';
import { firstLine, InputError } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import { deleteManagerBySystemId, listManagers, verifyRunnerToken } from '../gitlab/runners.ts';
import type { Logger } from '../log.ts';
import { planReconcile, type ReconcileRow, renderReconcileTable } from './reconcile-plan.ts';

export interface ReconcileOptions {
  stackName: string;
  /** Delete (and mark unhealthy) for real; otherwise only report. */
  apply: boolean;
  /** Mark InService instances whose manager is offline unhealthy, so the group replaces them. */
  replaceBroken: boolean;
  runnerId?: number;
  /** The glrt- token (RUNNER_FLEET_RUNNER_TOKEN); else read from the stack's SSM parameter. */
  runnerToken?: string;
}

export interface ReconcileDependencies {
  cloudFormation: CloudFormationClient;
  autoScaling: AutoScalingClient;
  ssm: () => Promise<SSMClient>;
  /** API token client: lists managers. */
  api: GitLabClient;
  /** No API token: DELETE /runners/managers authenticates with the runner token. */
  runnerApi: GitLabClient;
  log: Logger;
}

export interface ReconcileResult {
  rows: ReconcileRow[];
  deleted: string[];
  markedUnhealthy: string[];
}

export async function reconcile(
  options: ReconcileOptions,
  deps: ReconcileDependencies,
): Promise<ReconcileResult> {
  const { log } = deps;
  const stack = await describeStack(deps.cloudFormation, options.stackName);
  if (!stack)
    throw new InputError(`stack ${options.stackName} does not exist (check --stack-name and --region)`);
  const { runnerId, runnerToken } = await fleetRunner(options, stack, deps);

  // Managers first, then the group: an instance that registers in between is in the group's snapshot.
  const managers = await listManagers(deps.api, runnerId);
  const groupName = await groupNameOfStack(deps.cloudFormation, stack);
  const group = await describeGroup(deps.autoScaling, groupName);
  const rows = planReconcile(managers, group?.Instances ?? []);
  log.info(
    `Runner #${runnerId}: ${managers.length} manager(s); group ${groupName}: ${group?.Instances?.length ?? 0} instance(s)`,
  );

  const deleted: string[] = [];
  const markedUnhealthy: string[] = [];
  const toDelete = rows.filter((row) => row.action === 'delete');
  const broken = rows.filter((row) => row.action === 'broken');
  if (options.apply) {
    if (toDelete.length > 0 && !runnerToken) {
      log.warn(
        `${toDelete.length} manager(s) to delete, but no runner token (RUNNER_FLEET_RUNNER_TOKEN or the stack's SSM parameter): not deleted`,
      );
    }
    for (const row of runnerToken ? toDelete : []) {
      const outcome = await deleteManagerBySystemId(deps.runnerApi, runnerToken ?? '', row.systemId);
      deleted.push(row.systemId);
      if (outcome === 'not-found') log.info(`  ${row.systemId} was already gone`);
    }
    if (options.replaceBroken) {
      for (const row of broken) {
        if (!row.instanceId) continue;
        await markInstanceUnhealthy(deps.autoScaling, row.instanceId);
        markedUnhealthy.push(row.instanceId);
      }
    }
  }
  for (const line of renderReconcileTable(rows, {
    applied: options.apply,
    deleted: new Set(deleted),
    markedUnhealthy: new Set(markedUnhealthy),
  })) {
    log.info(line);
  }
  for (const row of broken) {
    const replaced = markedUnhealthy.includes(row.instanceId ?? '');
    log.warn(
      `${row.instanceId} is InService but its runner manager ${row.systemId} is ${row.managerStatus} (last contact ${row.contactedAt ?? 'never'})${replaced ? ': marked unhealthy, the group replaces it' : options.replaceBroken ? '' : '; --replace-broken marks it unhealthy so the group replaces it'}`,
    );
  }
  const summary = options.apply
    ? `Reconciled runner #${runnerId}: ${deleted.length} manager(s) deleted, ${broken.length} broken instance(s)${markedUnhealthy.length ? ` (${markedUnhealthy.length} marked unhealthy)` : ''}`
    : `Dry run: ${toDelete.length} manager(s) would be deleted, ${broken.length} broken instance(s); run with --apply to act`;
  log.info(summary);
  return { rows, deleted, markedUnhealthy };
}

async function fleetRunner(
  options: ReconcileOptions,
  stack: Stack,
  deps: ReconcileDependencies,
): Promise<{ runnerId: number; runnerToken: string | undefined }> {
  let runnerToken = options.runnerToken;
  let runnerId = options.runnerId;
  // A given token names the runner before the recorded id does, as everywhere (commands/fleet-runner.ts).
  if (runnerId === undefined && runnerToken) {
    runnerId = (await verifyRunnerToken(deps.runnerApi, runnerToken))?.id;
  }
  const parameterName = tokenParameterOfStack(stack);
  if (parameterName && (runnerToken === undefined || runnerId === undefined)) {
    try {
      const ssm = await deps.ssm();
      runnerId ??= (await describeRunnerToken(ssm, parameterName))?.runnerId;
      runnerToken ??= await readRunnerToken(ssm, parameterName);
    } catch (error) {
      deps.log.warn(`could not read the runner token parameter ${parameterName}: ${firstLine(error)}`);
    }
  }
  // The stored token, when neither an id nor a token was given and no id was recorded.
  if (runnerId === undefined && runnerToken && runnerToken !== options.runnerToken) {
    runnerId = (await verifyRunnerToken(deps.runnerApi, runnerToken))?.id;
  }
  if (runnerId === undefined) {
    throw new InputError(
      `no runner for stack ${options.stackName}: pass --runner-id, set RUNNER_FLEET_RUNNER_TOKEN, or create the runner with create-runner (it records the id on the token parameter)`,
    );
  }
  return { runnerId, runnerToken };
}
