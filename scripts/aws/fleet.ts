/**
 * Reads the fleet a stack runs: its Auto Scaling group, the launch template
 * version the group wants, the version each instance runs, and the AMI the
 * stack's SSM parameter points at now. Functions take their clients.
 */
import {
  type AutoScalingClient,
  type AutoScalingGroup,
  paginateDescribeAutoScalingGroups,
} from '@aws-sdk/client-auto-scaling';
import {
  type CloudFormationClient,
  paginateListStackResources,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { OperationError } from '../errors.ts';

/** The group's physical name: the stack output, else the stack's group resource (outputs can be missing). */
export async function fleetGroupName(cfn: CloudFormationClient, stack: Stack): Promise<string> {
  const output = stack.Outputs?.find((o) => o.OutputKey === 'AutoScalingGroupName')?.OutputValue;
  if (output) return output;
  const pages = paginateListStackResources({ client: cfn }, { StackName: stack.StackId ?? stack.StackName });
  for await (const page of pages) {
    const group = page.StackResourceSummaries?.find(
      (resource) => resource.ResourceType === 'AWS::AutoScaling::AutoScalingGroup',
    );
    if (group?.PhysicalResourceId) return group.PhysicalResourceId;
  }
  throw new OperationError(`stack ${stack.StackName} has no Auto Scaling group; is it a runner-fleet stack?`);
}

export async function describeGroup(client: AutoScalingClient, groupName: string): Promise<AutoScalingGroup> {
  const pages = paginateDescribeAutoScalingGroups({ client }, { AutoScalingGroupNames: [groupName] });
  for await (const page of pages) {
    const group = page.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === groupName);
    if (group) return group;
  }
  throw new OperationError(`Auto Scaling group ${groupName} does not exist`);
}

export interface LaunchTemplateRef {
  id: string;
  /** The version the group asks for: a number, or $Latest / $Default. */
  version: string;
}

export function groupLaunchTemplate(group: AutoScalingGroup): LaunchTemplateRef | undefined {
  const spec =
    group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification ?? group.LaunchTemplate;
  if (!spec?.LaunchTemplateId && !spec?.LaunchTemplateName) return undefined;
  return { id: spec.LaunchTemplateId ?? spec.LaunchTemplateName ?? '', version: spec.Version ?? '$Default' };
}

/** Instances launched from another launch template version than the one the group asks for. */
export function instancesOnOtherVersions(group: AutoScalingGroup): { instanceId: string; version: string }[] {
  const wanted = groupLaunchTemplate(group);
  if (!wanted || wanted.version.startsWith('$')) return [];
  return (group.Instances ?? [])
    .filter(
      (instance) => instance.LaunchTemplate?.Version && instance.LaunchTemplate.Version !== wanted.version,
    )
    .map((instance) => ({
      instanceId: instance.InstanceId ?? '?',
      version: instance.LaunchTemplate?.Version ?? '?',
    }));
}

/** The AMI id a public (or private) SSM parameter holds right now. */
export async function currentParameterValue(client: SSMClient, name: string): Promise<string> {
  const response = await client.send(new GetParameterCommand({ Name: name }));
  const value = response.Parameter?.Value;
  if (!value) throw new OperationError(`SSM parameter ${name} has no value`);
  return value;
}
