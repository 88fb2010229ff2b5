/**
 * Pure rendering of `runner-fleet status`: the stack, the group and one row
 * per instance, from plain values that commands/status.ts reads from AWS and
 * GitLab.
 */
import { formatTimestamp } from './events.ts';

export interface StatusView {
  stack: { name: string | undefined; status: string | undefined; lastChange: Date | undefined };
  group: GroupView | undefined;
  now: Date;
}

export interface GroupView {
  name: string | undefined;
  desired: number | undefined;
  min: number | undefined;
  max: number | undefined;
  /** How spot and on-demand mix; undefined when the group launches on-demand only. */
  distribution:
    | {
        onDemandBase: number | undefined;
        onDemandPercentAboveBase: number | undefined;
        spotStrategy: string | undefined;
      }
    | undefined;
  /** The launch template the group asks for. */
  launchTemplate: { id: string; version: string } | undefined;
  instances: InstanceRow[];
  /** Whether GitLab was asked (a token was given): only then is there a runner manager column. */
  managersRead: boolean;
}

export interface InstanceRow {
  id: string | undefined;
  type: string | undefined;
  /** spot or on-demand; undefined when EC2 did not describe the instance. */
  market: string | undefined;
  lifecycleState: string | undefined;
  health: string | undefined;
  protectedFromScaleIn: boolean | undefined;
  launchTemplateVersion: string | undefined;
  launchTime: Date | undefined;
  /** The instance's runner manager; undefined when it has none (or GitLab was not asked). */
  manager: ManagerView | undefined;
}

export interface ManagerView {
  status: string;
  version: string | null;
  contactedAt: string | null;
}

export function renderStatus(view: StatusView): string[] {
  const { stack, group } = view;
  const lines = [
    `Stack     ${stack.name}  ${stack.status}  last change ${formatTimestamp(stack.lastChange)}`,
  ];
  if (!group) {
    lines.push('Group     (none found)');
    return lines;
  }
  const distribution = group.distribution;
  const market = distribution
    ? `on-demand base ${distribution.onDemandBase ?? 0}, ${distribution.onDemandPercentAboveBase ?? 100}% on-demand above base, spot strategy ${distribution.spotStrategy ?? 'default'}`
    : 'on-demand only';
  lines.push(
    `Group     ${group.name}  desired ${group.desired}  min ${group.min}  max ${group.max}`,
    `          ${market}`,
    `          launch template ${group.launchTemplate?.id ?? '?'} version ${group.launchTemplate?.version ?? '?'}`,
  );
  const instances = [...group.instances].sort((a, b) => (a.id ?? '').localeCompare(b.id ?? ''));
  const spot = instances.filter((i) => i.market === 'spot').length;
  lines.push(`Instances ${instances.length} (${spot} spot, ${instances.length - spot} on-demand)`);
  if (instances.length === 0) return lines;

  const header = ['INSTANCE', 'TYPE', 'MARKET', 'STATE', 'HEALTH', 'PROTECTED', 'LT', 'AGE'];
  if (group.managersRead) header.push('RUNNER MANAGER');
  const rows = instances.map((instance) => {
    const row = [
      instance.id ?? '?',
      instance.type || '?',
      instance.market ?? '?',
      instance.lifecycleState ?? '?',
      instance.health ?? '?',
      instance.protectedFromScaleIn ? 'yes' : 'no',
      instance.launchTemplateVersion ?? '?',
      instance.launchTime ? age(view.now.getTime() - instance.launchTime.getTime()) : '?',
    ];
    if (group.managersRead) row.push(describeManager(instance.manager, view.now));
    return row;
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const format = (cells: string[]) =>
    `  ${cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')}`;
  lines.push(format(header), ...rows.map(format));
  return lines;
}

function describeManager(manager: ManagerView | undefined, now: Date): string {
  if (!manager) return 'not registered';
  const contacted = manager.contactedAt
    ? `contacted ${age(now.getTime() - Date.parse(manager.contactedAt))} ago`
    : 'never contacted';
  return `${manager.status} ${manager.version ?? '?'} (${contacted})`;
}

export function age(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}
