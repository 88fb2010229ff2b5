/**
 * A fake of EC2 Auto Scaling's instance refresh with its real state machine,
 * for `roll` tests: no emulator runs one (moto lacks it, ministack stubs it).
 *
 * Follows the documented behaviour: one active refresh per group (a second
 * start fails with InstanceRefreshInProgress); Pending, then InProgress while
 * instances are replaced in batches bounded by Min/MaxHealthyPercentage;
 * SkipMatching leaves instances already on the wanted launch template version;
 * AutoRollback is refused without a DesiredConfiguration; instances protected
 * from scale-in are replaced with ScaleInProtectedInstances=Refresh and hold
 * the refresh with Wait, which fails after an hour (WAIT_LIMIT_STEPS here);
 * new instances take `warmupSteps` describe calls to become healthy;
 * a failure ends Failed, or with AutoRollback goes RollbackInProgress then
 * RollbackSuccessful; a cancel goes Cancelling then Cancelled. Every describe
 * call advances the clock of the fake by one step.
 */
import type { DesiredConfiguration, InstanceRefresh, RefreshPreferences } from '@aws-sdk/client-auto-scaling';
import type { InstanceRefreshApi } from '../../scripts/aws/instance-refresh.ts';

export interface FakeInstance {
  id: string;
  version: string;
  protectedFromScaleIn?: boolean;
}

export interface FakeGroup {
  name: string;
  desiredVersion: string;
  instances: FakeInstance[];
}

/** Describe calls that stand for AWS's one-hour wait on protected instances. */
export const WAIT_LIMIT_STEPS = 60;

export interface FakeScenario {
  /** Describe calls a new instance needs before it counts as healthy. */
  warmupSteps?: number;
  /** Fail after replacing this many instances. */
  failAfterReplacing?: number;
  failureReason?: string;
  /** Describe calls an instance stays protected before it finishes its jobs. */
  protectedForSteps?: number;
}

interface RefreshState {
  refresh: InstanceRefresh;
  toReplace: string[];
  replaced: number;
  total: number;
  steps: number;
  /** Steps spent on the instance being replaced now (warm-up, protection). */
  currentSteps: number;
}

export class InstanceRefreshFake implements InstanceRefreshApi {
  readonly started: {
    groupName: string;
    preferences: RefreshPreferences;
    desiredConfiguration: DesiredConfiguration | undefined;
  }[] = [];
  private readonly refreshes: RefreshState[] = [];
  private counter = 0;

  constructor(
    readonly group: FakeGroup,
    private readonly scenario: FakeScenario = {},
  ) {}

  /** A refresh somebody else started before the test's command runs. */
  preexisting(
    preferences: RefreshPreferences = { MinHealthyPercentage: 100, MaxHealthyPercentage: 200 },
  ): string {
    return this.begin(preferences);
  }

  cancel(refreshId: string): void {
    const state = this.refreshes.find((s) => s.refresh.InstanceRefreshId === refreshId);
    if (state) state.refresh.Status = 'Cancelling';
  }

  async listRefreshes(groupName: string): Promise<InstanceRefresh[]> {
    this.assertGroup(groupName);
    return this.refreshes.map((s) => ({ ...s.refresh })).reverse();
  }

  async startRefresh(
    groupName: string,
    preferences: RefreshPreferences,
    desiredConfiguration?: DesiredConfiguration,
  ): Promise<string> {
    this.assertGroup(groupName);
    if (preferences.AutoRollback && !desiredConfiguration) {
      throw Object.assign(
        new Error("AutoRollback can't be set to true when the DesiredConfiguration parameter is empty."),
        {
          name: 'ValidationError',
        },
      );
    }
    this.started.push({ groupName, preferences, desiredConfiguration });
    return this.begin(preferences);
  }

  async describeRefresh(groupName: string, refreshId: string): Promise<InstanceRefresh | undefined> {
    this.assertGroup(groupName);
    const state = this.refreshes.find((s) => s.refresh.InstanceRefreshId === refreshId);
    if (!state) return undefined;
    this.step(state);
    return { ...state.refresh };
  }

  private begin(preferences: RefreshPreferences): string {
    if (this.refreshes.some((s) => !isEnded(s.refresh.Status))) {
      throw Object.assign(
        new Error(
          'An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.',
        ),
        {
          name: 'InstanceRefreshInProgressFault',
        },
      );
    }
    const minHealthy = preferences.MinHealthyPercentage ?? 90;
    const maxHealthy = preferences.MaxHealthyPercentage ?? 100;
    if (
      maxHealthy < 100 ||
      maxHealthy > 200 ||
      minHealthy < 0 ||
      minHealthy > 100 ||
      maxHealthy - minHealthy > 100
    ) {
      throw Object.assign(new Error('Invalid MinHealthyPercentage/MaxHealthyPercentage combination'), {
        name: 'ValidationError',
      });
    }
    this.counter += 1;
    const toReplace = this.group.instances
      .filter((i) => !(preferences.SkipMatching && i.version === this.group.desiredVersion))
      .map((i) => i.id);
    const refresh: InstanceRefresh = {
      InstanceRefreshId: `refresh-${this.counter}`,
      AutoScalingGroupName: this.group.name,
      Status: 'Pending',
      PercentageComplete: 0,
      InstancesToUpdate: toReplace.length,
      StartTime: new Date(Date.UTC(2026, 10, 28, 12, this.counter)),
      Preferences: preferences,
    };
    this.refreshes.push({
      refresh,
      toReplace,
      replaced: 0,
      total: toReplace.length,
      steps: 0,
      currentSteps: 0,
    });
    return refresh.InstanceRefreshId ?? '';
  }

  private step(state: RefreshState): void {
    const refresh = state.refresh;
    state.steps += 1;
    switch (refresh.Status) {
      case 'Pending':
        refresh.Status = 'InProgress';
        return;
      case 'Cancelling':
        refresh.Status = 'Cancelled';
        refresh.StatusReason = 'Instance refresh was cancelled.';
        return;
      case 'RollbackInProgress':
        for (const instance of this.group.instances) instance.version = this.previousVersion();
        refresh.Status = 'RollbackSuccessful';
        refresh.StatusReason = `Rollback completed after: ${refresh.StatusReason ?? ''}`.trim();
        return;
      case 'InProgress':
        break;
      default:
        return;
    }
    const prefs = refresh.Preferences ?? {};
    if (
      this.scenario.failAfterReplacing !== undefined &&
      state.replaced >= this.scenario.failAfterReplacing
    ) {
      refresh.StatusReason =
        this.scenario.failureReason ?? 'Instances failed to launch: insufficient capacity.';
      refresh.Status = prefs.AutoRollback ? 'RollbackInProgress' : 'Failed';
      return;
    }
    const next = state.toReplace[0];
    if (next === undefined) {
      refresh.Status = 'Successful';
      refresh.PercentageComplete = 100;
      refresh.InstancesToUpdate = 0;
      refresh.StatusReason = undefined;
      return;
    }
    const instance = this.group.instances.find((i) => i.id === next);
    state.currentSteps += 1;
    if (instance?.protectedFromScaleIn && prefs.ScaleInProtectedInstances !== 'Refresh') {
      if (prefs.ScaleInProtectedInstances === 'Ignore') {
        state.toReplace.shift();
        state.currentSteps = 0;
        return;
      }
      if (state.currentSteps > WAIT_LIMIT_STEPS) {
        refresh.StatusReason = `Instance refresh failed: waited one hour for instances with scale-in protection: ${instance.id}`;
        refresh.Status = prefs.AutoRollback ? 'RollbackInProgress' : 'Failed';
        return;
      }
      if (state.currentSteps <= (this.scenario.protectedForSteps ?? 1)) {
        refresh.StatusReason = `Waiting for instances with scale-in protection to be terminated or have protection removed: ${instance.id}`;
        return;
      }
      instance.protectedFromScaleIn = false;
    }
    if (state.currentSteps <= (this.scenario.warmupSteps ?? 0)) {
      refresh.StatusReason = 'Waiting for the new instance to warm up';
      return;
    }
    state.currentSteps = 0;
    // Launch before terminate when MaxHealthyPercentage allows: the new one replaces the old in place.
    state.toReplace.shift();
    if (instance) {
      instance.id = `${instance.id}-new`;
      instance.version = this.group.desiredVersion;
    }
    state.replaced += 1;
    refresh.StatusReason = undefined;
    refresh.InstancesToUpdate = state.toReplace.length;
    refresh.PercentageComplete = state.total === 0 ? 100 : Math.floor((state.replaced / state.total) * 100);
  }

  private previousVersion(): string {
    return String(Math.max(1, Number(this.group.desiredVersion) - 1));
  }

  private assertGroup(groupName: string): void {
    if (groupName !== this.group.name) {
      throw Object.assign(new Error(`AutoScalingGroup name not found - ${groupName}`), {
        name: 'ValidationError',
      });
    }
  }
}

function isEnded(status: string | undefined): boolean {
  return ['Successful', 'Failed', 'Cancelled', 'RollbackSuccessful', 'RollbackFailed'].includes(status ?? '');
}
