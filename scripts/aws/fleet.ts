/**
 * Reads the fleet a stack runs: its Auto Scaling group, the launch template
 * version the group wants, the version each instance runs, and the AMI the
 * stack's SSM parameter points at now. Functions take their clients.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { OperationError } from '../errors.ts';

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
  const { GetParameterCommand } = await import('@aws-sdk/client-ssm');
  const response = await client.send(new GetParameterCommand({ Name: name }));
  const value = response.Parameter?.Value;
  if (!value) throw new OperationError(`SSM parameter ${name} has no value`);
  return value;
}
