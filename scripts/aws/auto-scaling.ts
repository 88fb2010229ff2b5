/**
 * The fleet's Auto Scaling group: which group a stack owns, its desired
 * capacity and the instances in service, and when those instances launched.
 * Every function takes its client, so tests hand in a mocked one; nothing
 * here prints.
 */
// SDK clients other than CloudFormation are imported when first used: each
// costs start-up time that commands which do not need it should not pay.
import type { AutoScalingClient, AutoScalingGroup, Instance } from '@aws-sdk/client-auto-scaling';
import {
  type CloudFormationClient,
  DescribeStackResourcesCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { OperationError } from '../errors.ts';

export const GROUP_OUTPUT_KEY = 'AutoScalingGroupName';
const GROUP_RESOURCE_TYPE = 'AWS::AutoScaling::AutoScalingGroup';
/** The runner (manager) group's logical id in cfn/runner-fleet.yaml. */
const FLEET_GROUP_LOGICAL_ID = 'AutoScalingGroup';

/**
 * The name of the stack's Auto Scaling group: the AutoScalingGroupName
 * output, or else the stack's one AWS::AutoScaling::AutoScalingGroup resource
 * (some endpoints keep no outputs after a change-set create). With several
 * groups (docker-autoscaler mode adds WorkerGroup), the fleet template's
 * runner group is the one named AutoScalingGroup.
 */
export async function groupNameOfStack(
  cfn: CloudFormationClient,
  stack: Stack,
  abortSignal?: AbortSignal,
): Promise<string> {
  const output = stack.Outputs?.find((o) => o.OutputKey === GROUP_OUTPUT_KEY)?.OutputValue;
  if (output) return output;
  const stackName = stack.StackName ?? stack.StackId ?? '';
  const response = await cfn.send(
    new DescribeStackResourcesCommand({ StackName: stack.StackId ?? stackName }),
    {
      abortSignal,
    },
  );
  const groups = (response.StackResources ?? []).filter(
    (resource) => resource.ResourceType === GROUP_RESOURCE_TYPE && resource.PhysicalResourceId,
  );
  const runners = groups.find((group) => group.LogicalResourceId === FLEET_GROUP_LOGICAL_ID);
  if (groups.length > 1 && runners?.PhysicalResourceId) return runners.PhysicalResourceId;
  const [only, ...others] = groups;
  if (!only?.PhysicalResourceId) {
    throw new OperationError(
      `stack ${stackName} has no ${GROUP_OUTPUT_KEY} output and no ${GROUP_RESOURCE_TYPE} resource: is it a runner-fleet stack?`,
    );
  }
  if (others.length > 0) {
    throw new OperationError(
      `stack ${stackName} has ${groups.length} Auto Scaling groups (${groups.map((g) => g.LogicalResourceId).join(', ')}) and no ${GROUP_OUTPUT_KEY} output to say which is the fleet`,
    );
  }
  return only.PhysicalResourceId;
}

export async function describeGroup(
  client: AutoScalingClient,
  groupName: string,
): Promise<AutoScalingGroup | undefined> {
  const { paginateDescribeAutoScalingGroups } = await import('@aws-sdk/client-auto-scaling');
  const pages = paginateDescribeAutoScalingGroups({ client }, { AutoScalingGroupNames: [groupName] });
  for await (const page of pages) {
    const group = page.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === groupName);
    if (group) return group;
  }
  return undefined;
}

export interface GroupCapacity {
  desired: number;
  /** InService and Healthy: the instances that take jobs. */
  inService: Instance[];
  /** Every other instance, with its lifecycle state (Pending, Terminating, ...). */
  others: Instance[];
}

export function groupCapacity(group: AutoScalingGroup): GroupCapacity {
  const instances = group.Instances ?? [];
  const serving = (i: Instance) => i.LifecycleState === 'InService' && i.HealthStatus === 'Healthy';
  return {
    desired: group.DesiredCapacity ?? 0,
    inService: instances.filter(serving),
    others: instances.filter((i) => !serving(i)),
  };
}

/** True when at least the desired number of instances are in service. */
export function hasDesiredCapacity(capacity: GroupCapacity): boolean {
  return capacity.inService.length >= capacity.desired;
}

export interface InstanceDetails {
  instanceType: string;
  /** 'spot' or 'on-demand' (EC2 reports InstanceLifecycle only for spot and scheduled). */
  market: string;
  launchTime: Date | undefined;
}

/** Type, market and launch time of each instance, from EC2; instances EC2 no longer knows are left out. */
export async function instanceDetails(
  client: EC2Client,
  instanceIds: readonly string[],
): Promise<Map<string, InstanceDetails>> {
  const details = new Map<string, InstanceDetails>();
  if (instanceIds.length === 0) return details;
  const { paginateDescribeInstances } = await import('@aws-sdk/client-ec2');
  const pages = paginateDescribeInstances({ client }, { InstanceIds: [...instanceIds] });
  for await (const page of pages) {
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (!instance.InstanceId) continue;
        details.set(instance.InstanceId, {
          instanceType: instance.InstanceType ?? '?',
          market: instance.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
          launchTime: instance.LaunchTime,
        });
      }
    }
  }
  return details;
}
