/** `runner-fleet status`: what the fleet is right now. Read-only; orchestration only. */
import type { AutoScalingClient, AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  describeGroup,
  groupNameOfStack,
  type InstanceDetails,
  instanceDetails,
} from '../aws/auto-scaling.ts';
import { describeStack } from '../aws/cloudformation.ts';
import { groupLaunchTemplate } from '../aws/fleet.ts';
import { firstLine, InputError } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import { findManagerForInstance, listManagers, type RunnerManager } from '../gitlab/runners.ts';
import type { Logger } from '../log.ts';
import { type GroupView, renderStatus } from '../render/status-table.ts';
import { NO_FLEET_RUNNER_HINT } from './fleet-runner.ts';

export interface StatusDependencies {
  cloudFormation: CloudFormationClient;
  autoScaling: AutoScalingClient;
  ec2: EC2Client;
  log: Logger;
  now?: () => Date;
  /** GitLab client and the fleet's runner id when a token was given; managers are then shown. */
  gitlab?: { client: GitLabClient; runnerId: (stack: Stack) => Promise<number | undefined> };
}

export async function status(stackName: string, deps: StatusDependencies): Promise<void> {
  const stack = await describeStack(deps.cloudFormation, stackName);
  if (!stack) throw new InputError(`stack ${stackName} does not exist (check --stack-name and --region)`);
  const group = await groupNameOfStack(deps.cloudFormation, stack)
    .then((groupName) => describeGroup(deps.autoScaling, groupName))
    .catch((error: unknown) => {
      deps.log.warn(`could not read the stack's Auto Scaling group: ${firstLine(error)}`);
      return undefined;
    });
  const instanceIds = (group?.Instances ?? []).map((i) => i.InstanceId ?? '').filter(Boolean);
  const details = await instanceDetails(deps.ec2, instanceIds);

  let managers: Map<string, RunnerManager | undefined> | undefined;
  const runnerId = deps.gitlab ? await deps.gitlab.runnerId(stack) : undefined;
  if (deps.gitlab && runnerId !== undefined) {
    const all = await listManagers(deps.gitlab.client, runnerId);
    managers = new Map(instanceIds.map((id) => [id, findManagerForInstance(all, id)]));
  }
  for (const line of renderStatus({
    stack: stackView(stack),
    group: group ? groupView(group, details, managers) : undefined,
    now: (deps.now ?? (() => new Date()))(),
  })) {
    deps.log.info(line);
  }
  if (!managers) {
    deps.log.info(
      deps.gitlab
        ? `(runner managers not shown: the fleet's runner is unknown; ${NO_FLEET_RUNNER_HINT})`
        : '(runner managers not shown: set RUNNER_FLEET_GITLAB_TOKEN to see them)',
    );
  }
}

function stackView(stack: Stack) {
  return {
    name: stack.StackName,
    status: stack.StackStatus,
    lastChange: stack.LastUpdatedTime ?? stack.CreationTime,
  };
}

/** The group as the status table shows it: AWS's answers and GitLab's managers, per instance. */
function groupView(
  group: AutoScalingGroup,
  details: ReadonlyMap<string, InstanceDetails>,
  managers: ReadonlyMap<string, RunnerManager | undefined> | undefined,
): GroupView {
  const distribution = group.MixedInstancesPolicy?.InstancesDistribution;
  return {
    name: group.AutoScalingGroupName,
    desired: group.DesiredCapacity,
    min: group.MinSize,
    max: group.MaxSize,
    distribution: distribution && {
      onDemandBase: distribution.OnDemandBaseCapacity,
      onDemandPercentAboveBase: distribution.OnDemandPercentageAboveBaseCapacity,
      spotStrategy: distribution.SpotAllocationStrategy,
    },
    launchTemplate: groupLaunchTemplate(group),
    managersRead: managers !== undefined,
    instances: (group.Instances ?? []).map((instance) => {
      const detail = details.get(instance.InstanceId ?? '');
      const manager = managers?.get(instance.InstanceId ?? '');
      return {
        id: instance.InstanceId,
        type: instance.InstanceType || detail?.instanceType,
        market: detail?.market,
        lifecycleState: instance.LifecycleState,
        health: instance.HealthStatus,
        protectedFromScaleIn: instance.ProtectedFromScaleIn,
        launchTemplateVersion: instance.LaunchTemplate?.Version,
        launchTime: detail?.launchTime,
        manager: manager && {
          status: manager.status,
          version: manager.version,
          contactedAt: manager.contacted_at,
        },
      };
    }),
  };
}
