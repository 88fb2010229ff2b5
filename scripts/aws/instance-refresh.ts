/**
 * Instance refresh calls behind a small interface. No local emulator runs an
 * instance refresh (moto lacks it, ministack stubs it), so `roll` is tested
 * against a fake with the real state machine (test/fakes/) and this module's
 * request shapes against a mocked client.
 */
import type {
  AutoScalingClient,
  DesiredConfiguration,
  InstanceRefresh,
  RefreshPreferences,
} from '@aws-sdk/client-auto-scaling';

/** Refresh states after which nothing more happens. */
export const REFRESH_END_STATES = new Set([
  'Successful',
  'Failed',
  'Cancelled',
  'RollbackSuccessful',
  'RollbackFailed',
]);

export interface InstanceRefreshApi {
  /** The refreshes of a group, newest first. */
  listRefreshes(groupName: string): Promise<InstanceRefresh[]>;
  /** AWS accepts AutoRollback only with a desired configuration to roll back from. */
  startRefresh(
    groupName: string,
    preferences: RefreshPreferences,
    desiredConfiguration?: DesiredConfiguration,
  ): Promise<string>;
  describeRefresh(groupName: string, refreshId: string): Promise<InstanceRefresh | undefined>;
}

export function instanceRefreshApi(client: AutoScalingClient): InstanceRefreshApi {
  async function list(groupName: string, ids?: string[]): Promise<InstanceRefresh[]> {
    const refreshes: InstanceRefresh[] = [];
    const { paginateDescribeInstanceRefreshes } = await import('@aws-sdk/client-auto-scaling');
    const pages = paginateDescribeInstanceRefreshes(
      { client },
      { AutoScalingGroupName: groupName, ...(ids ? { InstanceRefreshIds: ids } : {}) },
    );
    for await (const page of pages) refreshes.push(...(page.InstanceRefreshes ?? []));
    return refreshes.sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0));
  }
  return {
    listRefreshes: (groupName) => list(groupName),
    async startRefresh(groupName, preferences, desiredConfiguration) {
      const { StartInstanceRefreshCommand } = await import('@aws-sdk/client-auto-scaling');
      const response = await client.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: groupName,
          Strategy: 'Rolling',
          Preferences: preferences,
          ...(desiredConfiguration ? { DesiredConfiguration: desiredConfiguration } : {}),
        }),
      );
      return response.InstanceRefreshId ?? '';
    },
    async describeRefresh(groupName, refreshId) {
      return (await list(groupName, [refreshId]))[0];
    },
  };
}

/** The refresh that is still running, if any: a second one must not be started. */
export function activeRefresh(refreshes: readonly InstanceRefresh[]): InstanceRefresh | undefined {
  return refreshes.find((refresh) => refresh.Status && !REFRESH_END_STATES.has(refresh.Status));
}
