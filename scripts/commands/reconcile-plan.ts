/**
 * What reconcile does to each runner manager, decided from GitLab's managers
 * and the Auto Scaling group's instances alone. Pure: no client, no output.
 *
 * The rule for deleting is narrow on purpose. A manager is the fleet's only
 * when its system_id has the form the instances derive from their instance id
 * (s_ + 12 lower-case hex, scripts/gitlab/system-id.ts); any other manager of
 * the runner (a host someone registered by hand with the same token) is left
 * alone. GitLab keeps a manager "online" for up to two hours after its last
 * contact, so status cannot tell a dead instance from a live one: the group
 * can, and the managers are listed before the group so that an instance
 * launched in between is always in the group snapshot.
 */
import type { Instance } from '@aws-sdk/client-auto-scaling';
import type { RunnerManager } from '../gitlab/runners.ts';
import { systemIdForInstance } from '../gitlab/system-id.ts';

/** What an instance-derived system_id looks like; see runner_system_id in runner_configs/linux/lib/runner.sh. */
export const FLEET_SYSTEM_ID = /^s_[0-9a-f]{12}$/;

export type ReconcileAction =
  /** The instance is gone or terminated: remove its manager. */
  | 'delete'
  /** InService, but its runner has not reached GitLab for hours: the host is broken. */
  | 'broken'
  /** InService and online, or an instance on its way in or out that handles its own manager. */
  | 'keep'
  /** InService with no manager: registration failed, or it is about to happen. */
  | 'unregistered'
  /** Not a system_id this fleet makes. */
  | 'foreign';

export interface ReconcileRow {
  systemId: string;
  instanceId: string | undefined;
  /** Lifecycle state in the group, or 'gone'. */
  instanceState: string;
  managerStatus: string;
  contactedAt: string | null;
  action: ReconcileAction;
}

const BROKEN_STATUSES = new Set(['offline', 'stale']);

export function planReconcile(
  managers: readonly RunnerManager[],
  instances: readonly Instance[],
): ReconcileRow[] {
  const bySystemId = new Map<string, Instance>();
  for (const instance of instances) {
    if (instance.InstanceId) bySystemId.set(systemIdForInstance(instance.InstanceId), instance);
  }
  const rows: ReconcileRow[] = [];
  const seen = new Set<string>();
  for (const manager of managers) {
    seen.add(manager.system_id);
    const instance = bySystemId.get(manager.system_id);
    const state = instance?.LifecycleState ?? 'gone';
    let action: ReconcileAction;
    if (!FLEET_SYSTEM_ID.test(manager.system_id)) action = 'foreign';
    else if (!instance || state === 'Terminated') action = 'delete';
    else if (state === 'InService' && BROKEN_STATUSES.has(manager.status)) action = 'broken';
    else action = 'keep';
    rows.push({
      systemId: manager.system_id,
      instanceId: instance?.InstanceId,
      instanceState: state,
      managerStatus: manager.status,
      contactedAt: manager.contacted_at,
      action,
    });
  }
  for (const [systemId, instance] of bySystemId) {
    if (seen.has(systemId) || instance.LifecycleState !== 'InService') continue;
    rows.push({
      systemId,
      instanceId: instance.InstanceId,
      instanceState: 'InService',
      managerStatus: 'none',
      contactedAt: null,
      action: 'unregistered',
    });
  }
  return rows;
}

/**
 * The table reconcile prints: one row per manager (and per InService instance
 * without one), with what was done or, in a dry run, what would be. Pure.
 */
export function renderReconcileTable(
  rows: readonly ReconcileRow[],
  done: { applied: boolean; deleted: ReadonlySet<string>; markedUnhealthy: ReadonlySet<string> },
): string[] {
  const label = (row: ReconcileRow): string => {
    switch (row.action) {
      case 'delete':
        if (!done.applied) return 'would delete';
        return done.deleted.has(row.systemId) ? 'deleted' : 'not deleted (no runner token)';
      case 'broken':
        return done.markedUnhealthy.has(row.instanceId ?? '') ? 'broken: marked unhealthy' : 'broken';
      case 'unregistered':
        return 'not registered';
      case 'foreign':
        return 'left alone (not a fleet id)';
      default:
        return '-';
    }
  };
  const table = [
    ['SYSTEM ID', 'INSTANCE', 'INSTANCE STATE', 'MANAGER', 'LAST CONTACT', 'ACTION'],
    ...rows.map((row) => [
      row.systemId,
      row.instanceId ?? '-',
      row.instanceState,
      row.managerStatus,
      row.contactedAt ?? '-',
      label(row),
    ]),
  ];
  const widths =
    table[0]?.map((_, column) => Math.max(...table.map((cells) => cells[column]?.length ?? 0))) ?? [];
  return table.map((cells) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  '),
  );
}
