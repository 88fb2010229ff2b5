/**
 * Reads the fleet a stack runs: its Auto Scaling group, the launch template
 * version the group wants, the version each instance runs, and the AMI the
 * stack's SSM parameter points at now. Functions take their clients.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { type EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
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
  const response = await client.send(new GetParameterCommand({ Name: name }));
  const value = response.Parameter?.Value;
  if (!value) throw new OperationError(`SSM parameter ${name} has no value`);
  return value;
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
