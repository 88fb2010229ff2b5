/** The `status` table from plain values (scripts/render/status-table.ts); the CLI against moto is in test/integration/status-destroy.test.ts. */
import { describe, expect, it } from 'vitest';
import { type GroupView, type InstanceRow, renderStatus } from '../../scripts/render/status-table.ts';

const now = new Date('2026-11-30T12:00:00Z');
const stack = { name: 'fleet', status: 'UPDATE_COMPLETE', lastChange: new Date('2026-11-29T00:00:00Z') };

function row(overrides: Partial<InstanceRow>): InstanceRow {
  return {
    id: 'i-0a',
    type: 't3.micro',
    market: 'on-demand',
    lifecycleState: 'InService',
    health: 'Healthy',
    protectedFromScaleIn: false,
    launchTemplateVersion: '3',
    launchTime: new Date('2026-11-30T11:00:00Z'),
    manager: undefined,
    ...overrides,
  };
}

const group: GroupView = {
  name: 'fleet-asg',
  desired: 3,
  min: 1,
  max: 5,
  distribution: {
    onDemandBase: 1,
    onDemandPercentAboveBase: undefined,
    spotStrategy: 'price-capacity-optimized',
  },
  launchTemplate: { id: 'lt-1', version: '3' },
  managersRead: true,
  instances: [
    row({
      id: 'i-0c',
      market: 'spot',
      health: 'Unhealthy',
      launchTemplateVersion: '2',
      launchTime: undefined,
    }),
    row({
      id: 'i-0b',
      protectedFromScaleIn: true,
      launchTime: new Date('2026-11-20T11:00:00Z'),
      manager: { status: 'never_contacted', version: null, contactedAt: null },
    }),
    row({
      id: 'i-0a',
      market: 'spot',
      lifecycleState: 'Pending',
      launchTemplateVersion: undefined,
      manager: { status: 'online', version: '17.6.0', contactedAt: '2026-11-30T11:58:00Z' },
    }),
  ],
};

describe('renderStatus', () => {
  it('shows the stack, the group and one row per instance sorted by id, with its runner manager', () => {
    expect(renderStatus({ stack, group, now })).toEqual([
      'Stack     fleet  UPDATE_COMPLETE  last change 2026-11-29T00:00:00Z',
      'Group     fleet-asg  desired 3  min 1  max 5',
      '          on-demand base 1, 100% on-demand above base, spot strategy price-capacity-optimized',
      '          launch template lt-1 version 3',
      'Instances 3 (2 spot, 1 on-demand)',
      '  INSTANCE  TYPE      MARKET     STATE      HEALTH     PROTECTED  LT  AGE    RUNNER MANAGER',
      '  i-0a      t3.micro  spot       Pending    Healthy    no         ?   1h00m  online 17.6.0 (contacted 2m ago)',
      '  i-0b      t3.micro  on-demand  InService  Healthy    yes        3   10d1h  never_contacted ? (never contacted)',
      '  i-0c      t3.micro  spot       InService  Unhealthy  no         2   ?      not registered',
    ]);
  });

  it('leaves out the manager column when GitLab was not asked, and says when there is no group', () => {
    const plain = renderStatus({
      stack,
      group: { ...group, managersRead: false, distribution: undefined, instances: [row({})] },
      now,
    });
    expect(plain.slice(2)).toEqual([
      '          on-demand only',
      '          launch template lt-1 version 3',
      'Instances 1 (0 spot, 1 on-demand)',
      '  INSTANCE  TYPE      MARKET     STATE      HEALTH   PROTECTED  LT  AGE',
      '  i-0a      t3.micro  on-demand  InService  Healthy  no         3   1h00m',
    ]);
    expect(renderStatus({ stack, group: undefined, now })).toEqual([
      'Stack     fleet  UPDATE_COMPLETE  last change 2026-11-29T00:00:00Z',
      'Group     (none found)',
    ]);
  });
});
