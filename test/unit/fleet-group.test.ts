/**
 * Which group is the fleet when a stack's outputs are missing (moto keeps
 * none after a change-set create): in docker-autoscaler mode the stack has a
 * worker group too, and the runner group is the one the template names
 * AutoScalingGroup.
 */
import { CloudFormationClient, DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { groupNameOfStack } from '../../scripts/aws/auto-scaling.ts';

const cfnMock = mockClient(CloudFormationClient);
afterEach(() => cfnMock.reset());

const group = (LogicalResourceId: string, PhysicalResourceId: string) => ({
  LogicalResourceId,
  PhysicalResourceId,
  ResourceType: 'AWS::AutoScaling::AutoScalingGroup',
  ResourceStatus: 'CREATE_COMPLETE' as const,
  Timestamp: new Date(),
});

describe('groupNameOfStack', () => {
  it('picks the runner group beside the docker-autoscaler worker group', async () => {
    cfnMock.on(DescribeStackResourcesCommand).resolves({
      StackResources: [group('WorkerGroup', 'fleet-workers'), group('AutoScalingGroup', 'fleet-runners')],
    });
    const name = await groupNameOfStack(new CloudFormationClient({ region: 'eu-west-1' }), {
      StackName: 'fleet',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/fleet/1',
    } as never);
    expect(name).toBe('fleet-runners');
  });

  it('still refuses to guess between groups of another template', async () => {
    cfnMock.on(DescribeStackResourcesCommand).resolves({
      StackResources: [group('BlueGroup', 'blue'), group('GreenGroup', 'green')],
    });
    await expect(
      groupNameOfStack(new CloudFormationClient({ region: 'eu-west-1' }), { StackName: 'other' } as never),
    ).rejects.toThrow(/2 Auto Scaling groups \(BlueGroup, GreenGroup\)/);
  });
});
