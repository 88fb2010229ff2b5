/** Pure rendering of `runner-fleet status`: the stack, the group and one row per instance. */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import type { Stack } from '@aws-sdk/client-cloudformation';
import type { InstanceDetails } from '../aws/auto-scaling.ts';
import { groupLaunchTemplate } from '../aws/fleet.ts';
import type { RunnerManager } from '../gitlab/runners.ts';
import { formatTimestamp } from './events.ts';

export interface StatusModel {
  stack: Stack;
  group: AutoScalingGroup | undefined;
  details: ReadonlyMap<string, InstanceDetails>;
  /** Runner manager per instance id; undefined when GitLab was not asked (no token). */
  managers: ReadonlyMap<string, RunnerManager | undefined> | undefined;
  now: Date;
}

export function renderStatus(model: StatusModel): string[] {
  const { stack, group } = model;
  const lines = [
    `Stack     ${stack.StackName}  ${stack.StackStatus}  last change ${formatTimestamp(stack.LastUpdatedTime ?? stack.CreationTime)}`,
  ];
  if (!group) {
    lines.push('Group     (none found)');
    return lines;
  }
  const distribution = group.MixedInstancesPolicy?.InstancesDistribution;
  const market = distribution
    ? `on-demand base ${distribution.OnDemandBaseCapacity ?? 0}, ${distribution.OnDemandPercentageAboveBaseCapacity ?? 100}% on-demand above base, spot strategy ${distribution.SpotAllocationStrategy ?? 'default'}`
    : 'on-demand only';
  const template = groupLaunchTemplate(group);
  lines.push(
    `Group     ${group.AutoScalingGroupName}  desired ${group.DesiredCapacity}  min ${group.MinSize}  max ${group.MaxSize}`,
    `          ${market}`,
    `          launch template ${template?.id ?? '?'} version ${template?.version ?? '?'}`,
  );
  const instances = [...(group.Instances ?? [])].sort((a, b) =>
    (a.InstanceId ?? '').localeCompare(b.InstanceId ?? ''),
  );
  const spot = instances.filter((i) => model.details.get(i.InstanceId ?? '')?.market === 'spot').length;
  lines.push(`Instances ${instances.length} (${spot} spot, ${instances.length - spot} on-demand)`);
  if (instances.length === 0) return lines;

  const header = ['INSTANCE', 'TYPE', 'MARKET', 'STATE', 'HEALTH', 'PROTECTED', 'LT', 'AGE'];
  if (model.managers) header.push('RUNNER MANAGER');
  const rows = instances.map((instance) => {
    const id = instance.InstanceId ?? '?';
    const detail = model.details.get(id);
    const row = [
      id,
      instance.InstanceType || detail?.instanceType || '?',
      detail?.market ?? '?',
      instance.LifecycleState ?? '?',
      instance.HealthStatus ?? '?',
      instance.ProtectedFromScaleIn ? 'yes' : 'no',
      instance.LaunchTemplate?.Version ?? '?',
      detail?.launchTime ? age(model.now.getTime() - detail.launchTime.getTime()) : '?',
    ];
    if (model.managers) row.push(describeManager(model.managers.get(id), model.now));
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

function describeManager(manager: RunnerManager | undefined, now: Date): string {
  if (!manager) return 'not registered';
  const contacted = manager.contacted_at
    ? `contacted ${age(now.getTime() - Date.parse(manager.contacted_at))} ago`
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
