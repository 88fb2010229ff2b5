/**
 * `roll` against mocked CloudFormation / Auto Scaling / SSM clients for the
 * reads, and the instance refresh fake (test/fakes) for the refresh itself,
 * whose state machine no emulator runs. The real InstanceRefreshApi's request
 * shapes are checked against a mocked client at the end.
 */
import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instanceRefreshApi } from '../../scripts/aws/instance-refresh.ts';
import { type RollOptions, roll } from '../../scripts/commands/roll.ts';
import { InterruptedError, OperationError } from '../../scripts/errors.ts';
import { type FakeGroup, InstanceRefreshFake } from '../fakes/instance-refresh-fake.ts';
import { fakeClock } from '../support/fake-clock.ts';
import { captureLog } from '../support/log-capture.ts';

const cfnMock = mockClient(CloudFormationClient);
const asgMock = mockClient(AutoScalingClient);
const ssmMock = mockClient(SSMClient);
const credentials = { accessKeyId: 'x', secretAccessKey: 'y' };
const AMI_PATH = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const TEMPLATE = `Parameters:
  ImageIdParameter: {Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>', Default: '${AMI_PATH}'}
  PinnedImageId: {Type: String, Default: ''}
  RunnerVersion: {Type: String, Default: latest}
Resources:
  Group: {Type: AWS::AutoScaling::AutoScalingGroup}
`;

let out: string[];
let clients: { cfn: CloudFormationClient; asg: AutoScalingClient; ssm: SSMClient };

function fleetStack(
  overrides: { pinned?: string; runnerVersion?: string; resolvedAmi?: string } = {},
): Stack {
  return {
    StackName: 'fleet',
    StackId: 'arn:stack/fleet',
    StackStatus: 'UPDATE_COMPLETE',
    CreationTime: new Date(),
    Parameters: [
      {
        ParameterKey: 'ImageIdParameter',
        ParameterValue: AMI_PATH,
        ResolvedValue: overrides.resolvedAmi ?? 'ami-old',
      },
      { ParameterKey: 'PinnedImageId', ParameterValue: overrides.pinned ?? '' },
      { ParameterKey: 'RunnerVersion', ParameterValue: overrides.runnerVersion ?? 'latest' },
    ],
    Outputs: [{ OutputKey: 'AutoScalingGroupName', OutputValue: 'fleet-asg' }],
  };
}

function asgGroup(fake: InstanceRefreshFake): AutoScalingGroup {
  return {
    AutoScalingGroupName: fake.group.name,
    MinSize: 0,
    MaxSize: 4,
    DesiredCapacity: fake.group.instances.length,
    DefaultCooldown: 300,
    AvailabilityZones: ['us-east-1a'],
    HealthCheckType: 'EC2',
    CreatedTime: new Date(),
    MixedInstancesPolicy: {
      LaunchTemplate: {
        LaunchTemplateSpecification: { LaunchTemplateId: 'lt-1', Version: fake.group.desiredVersion },
      },
    },
    Instances: fake.group.instances.map((i) => ({
      InstanceId: i.id,
      AvailabilityZone: 'us-east-1a',
      LifecycleState: 'InService',
      HealthStatus: 'Healthy',
      ProtectedFromScaleIn: i.protectedFromScaleIn ?? false,
      LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: i.version },
    })),
  };
}

function options(overrides: Partial<RollOptions> = {}): RollOptions {
  return {
    stackName: 'fleet',
    dryRun: false,
    force: false,
    minHealthyPercentage: 100,
    maxHealthyPercentage: 200,
    instanceWarmupSeconds: undefined,
    checkpointPercentages: [],
    autoRollback: true,
    waitMinutes: 120,
    timeoutMinutes: 60,
    ...overrides,
  };
}

function run(
  fake: InstanceRefreshFake,
  opts: RollOptions = options(),
  extra: {
    latest?: string;
    versions?: Map<string, string>;
    signal?: AbortSignal;
  } = {},
) {
  return roll(opts, {
    cloudFormation: clients.cfn,
    autoScaling: clients.asg,
    ssm: clients.ssm,
    refresh: fake,
    log: captureLog(out),
    clock: fakeClock(),
    latestRunnerVersion: async () => extra.latest,
    instanceRunnerVersions: async () => extra.versions,
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
}

function given(fake: InstanceRefreshFake, stack: Stack, latestAmi: string) {
  cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack] });
  asgMock.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({ AutoScalingGroups: [asgGroup(fake)] }));
  ssmMock
    .on(GetParameterCommand, { Name: AMI_PATH })
    .resolves({ Parameter: { Name: AMI_PATH, Value: latestAmi } });
}

beforeEach(() => {
  cfnMock.reset();
  asgMock.reset();
  ssmMock.reset();
  clients = {
    cfn: new CloudFormationClient({ region: 'us-east-1', credentials }),
    asg: new AutoScalingClient({ region: 'us-east-1', credentials }),
    ssm: new SSMClient({ region: 'us-east-1', credentials }),
  };
  out = [];
});
afterEach(() => {
  clients.cfn.destroy();
  clients.asg.destroy();
  clients.ssm.destroy();
});

const twoInstances = (version = '3'): FakeGroup => ({
  name: 'fleet-asg',
  desiredVersion: '3',
  instances: [
    { id: 'i-0aaaaaaaaaaaaaaa1', version },
    { id: 'i-0aaaaaaaaaaaaaaa2', version },
  ],
});

describe('roll', () => {
  it('does nothing when AMI, launch template and runners are current', async () => {
    const fake = new InstanceRefreshFake(twoInstances());
    given(fake, fleetStack({ resolvedAmi: 'ami-new' }), 'ami-new');
    await expect(
      run(fake, options(), { latest: '17.6.0', versions: new Map([['i-0aaaaaaaaaaaaaaa1', '17.6.0']]) }),
    ).resolves.toBe('up-to-date');
    expect(fake.started).toHaveLength(0);
    expect(out.join('')).toContain('Fleet is up to date: nothing to roll.');
  });

  it('reports what is out of date and stops there with --dry-run', async () => {
    const fake = new InstanceRefreshFake(twoInstances('2'));
    given(fake, fleetStack(), 'ami-new');
    await expect(
      run(fake, options({ dryRun: true }), {
        latest: '17.6.0',
        versions: new Map([
          ['i-0aaaaaaaaaaaaaaa1', '17.5.1'],
          ['i-0aaaaaaaaaaaaaaa2', '17.6.0'],
        ]),
      }),
    ).resolves.toBe('dry-run');
    const text = out.join('');
    expect(text).toContain('AMI: out of date: ami-old -> ami-new');
    expect(text).toContain(
      'launch template: 2 instance(s) on an older version: i-0aaaaaaaaaaaaaaa1 (v2), i-0aaaaaaaaaaaaaaa2 (v2)',
    );
    expect(text).toContain('gitlab-runner: want 17.6.0; out of date: i-0aaaaaaaaaaaaaaa1 (17.5.1)');
    expect(fake.started).toHaveLength(0);
    expect(cfnMock.commandCalls(CreateChangeSetCommand)).toHaveLength(0);
  });

  it('updates the stack for a new AMI, then refreshes launch-before-terminate, skipping matching instances', async () => {
    const fake = new InstanceRefreshFake(twoInstances('2'));
    given(fake, fleetStack(), 'ami-new');
    cfnMock.on(GetTemplateCommand).resolves({ TemplateBody: TEMPLATE });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'cs', StackId: 'arn:stack/fleet' });
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'CREATE_COMPLETE',
      Changes: [
        { Type: 'Resource', ResourceChange: { Action: 'Modify', LogicalResourceId: 'LaunchTemplate' } },
      ],
    });
    cfnMock.on(ExecuteChangeSetCommand).resolves({});
    cfnMock.on(DescribeStackEventsCommand).resolves({ StackEvents: [] });

    await expect(run(fake)).resolves.toBe('rolled');

    const changeSet = cfnMock.commandCalls(CreateChangeSetCommand)[0]?.args[0].input;
    expect(changeSet?.TemplateBody).toBe(TEMPLATE);
    expect(changeSet?.Parameters).toEqual([
      { ParameterKey: 'ImageIdParameter', UsePreviousValue: true },
      { ParameterKey: 'PinnedImageId', UsePreviousValue: true },
      { ParameterKey: 'RunnerVersion', UsePreviousValue: true },
    ]);
    expect(fake.started[0]?.preferences).toEqual({
      MinHealthyPercentage: 100,
      MaxHealthyPercentage: 200,
      SkipMatching: true,
      AutoRollback: true,
      ScaleInProtectedInstances: 'Refresh',
      StandbyInstances: 'Ignore',
    });
    // Pinned to the group's numbered launch template version, as AWS needs for automatic rollback.
    expect(fake.started[0]?.desiredConfiguration).toEqual({
      MixedInstancesPolicy: {
        LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: 'lt-1', Version: '3' } },
      },
    });
    const progress = out
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('instance refresh refresh-1:'));
    expect(progress).toEqual([
      'instance refresh refresh-1: InProgress 0% complete, 2 instance(s) left',
      'instance refresh refresh-1: InProgress 50% complete, 1 instance(s) left',
      'instance refresh refresh-1: InProgress 100% complete, 0 instance(s) left',
      'instance refresh refresh-1: Successful 100% complete, 0 instance(s) left',
    ]);
    expect(fake.group.instances.every((i) => i.version === '3')).toBe(true);
  });

  it('replaces matching instances when only the runner release is newer', async () => {
    const fake = new InstanceRefreshFake(twoInstances('3'));
    given(fake, fleetStack({ resolvedAmi: 'ami-new' }), 'ami-new');
    await run(fake, options({ checkpointPercentages: [50, 100], instanceWarmupSeconds: 120 }), {
      latest: '17.6.0',
      versions: new Map([['i-0aaaaaaaaaaaaaaa1', '17.5.0']]),
    });
    expect(fake.started[0]?.preferences).toMatchObject({
      SkipMatching: false,
      CheckpointPercentages: [50, 100],
      InstanceWarmup: 120,
    });
    expect(cfnMock.commandCalls(CreateChangeSetCommand)).toHaveLength(0);
  });

  it('replaces busy (scale-in protected) instances too, leaving their jobs to the terminate hook drain', async () => {
    const group = twoInstances('2');
    group.instances[0] = { id: 'i-0aaaaaaaaaaaaaaa1', version: '2', protectedFromScaleIn: true };
    const fake = new InstanceRefreshFake(group, { protectedForSteps: 3 });
    given(fake, fleetStack({ resolvedAmi: 'ami-new' }), 'ami-new');
    await run(fake);
    expect(out.join('')).not.toContain('Waiting for instances with scale-in protection');
    expect(out.join('')).toContain('Successful 100% complete');
    expect(fake.group.instances.map((i) => i.version)).toEqual(['3', '3']);
  });

  it('refuses automatic rollback when the group names no launch template version', async () => {
    const fake = new InstanceRefreshFake({ ...twoInstances('2'), desiredVersion: '$Latest' });
    given(fake, fleetStack({ resolvedAmi: 'ami-new' }), 'ami-new');
    await expect(run(fake, options({ force: true }))).rejects.toThrow(
      'group fleet-asg does not name a launch template version, which automatic rollback needs',
    );
    expect(fake.started).toHaveLength(0);
    // Without rollback there is nothing to pin, and AWS accepts the refresh.
    await expect(run(fake, options({ force: true, autoRollback: false }))).resolves.toBe('rolled');
    expect(fake.started[0]?.desiredConfiguration).toBeUndefined();
  });

  it('follows a refresh that is already running instead of starting a second one', async () => {
    const fake = new InstanceRefreshFake(twoInstances('2'));
    fake.preexisting();
    given(fake, fleetStack({ resolvedAmi: 'ami-new' }), 'ami-new');
    await expect(run(fake)).resolves.toBe('rolled');
    expect(fake.started).toHaveLength(0);
    expect(out.join('')).toContain('An instance refresh is already running (refresh-1); following it');
  });

  it.each([
    [{ autoRollback: false }, 'Failed', /Instances failed to launch/],
    [{ autoRollback: true }, 'RollbackSuccessful', /back on its previous launch template/],
  ])('exits non-zero when the refresh fails (%j)', async (overrides, status, detail) => {
    const fake = new InstanceRefreshFake(twoInstances('2'), { failAfterReplacing: 1 });
    given(fake, fleetStack({ resolvedAmi: 'ami-new' }), 'ami-new');
    const failure = await run(fake, options(overrides)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OperationError);
    expect((failure as OperationError).message).toBe(`instance refresh refresh-1 ended ${status}`);
    expect((failure as OperationError).details.join(' ')).toMatch(detail);
  });

  it('exits non-zero when someone cancels the refresh', async () => {
    const fake = new InstanceRefreshFake(twoInstances('2'));
    given(fake, fleetStack({ resolvedAmi: 'ami-new' }), 'ami-new');
    const original = fake.describeRefresh.bind(fake);
    fake.describeRefresh = async (group, id) => {
      fake.cancel(id);
      return original(group, id);
    };
    await expect(run(fake)).rejects.toThrow('instance refresh refresh-1 ended Cancelled');
  });

  it('gives up following after --wait-minutes, leaving the refresh running', async () => {
    const fake = new InstanceRefreshFake(twoInstances('2'), { warmupSteps: 10_000 });
    given(fake, fleetStack({ resolvedAmi: 'ami-new' }), 'ami-new');
    await expect(run(fake, options({ waitMinutes: 1 }))).rejects.toThrow(
      /instance refresh refresh-1 is still InProgress after 1 minutes/,
    );
  });

  it('leaves the refresh running when interrupted, and says how to cancel it', async () => {
    const fake = new InstanceRefreshFake(twoInstances('2'));
    given(fake, fleetStack({ resolvedAmi: 'ami-new' }), 'ami-new');
    const controller = new AbortController();
    const original = fake.describeRefresh.bind(fake);
    fake.describeRefresh = async (group, id) => {
      controller.abort();
      return original(group, id);
    };
    await expect(run(fake, options(), { signal: controller.signal })).rejects.toBeInstanceOf(
      InterruptedError,
    );
    expect(out.join('')).toContain('cancel-instance-refresh --auto-scaling-group-name fleet-asg');
  });

  it('does not touch a pinned AMI', async () => {
    const fake = new InstanceRefreshFake(twoInstances('3'));
    given(fake, fleetStack({ pinned: 'ami-pinned', runnerVersion: '17.6.0' }), 'ami-new');
    await expect(run(fake, options(), { versions: new Map() })).resolves.toBe('up-to-date');
    expect(out.join('')).toContain('AMI is pinned to ami-pinned');
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(0);
  });
});

describe('InstanceRefreshApi against the Auto Scaling API shapes', () => {
  it('starts a rolling refresh with the preferences and lists refreshes newest first', async () => {
    asgMock.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'r-1' });
    asgMock.on(DescribeInstanceRefreshesCommand).resolves({
      InstanceRefreshes: [
        { InstanceRefreshId: 'old', Status: 'Successful', StartTime: new Date('2026-01-01') },
        { InstanceRefreshId: 'new', Status: 'InProgress', StartTime: new Date('2026-02-01') },
      ],
    });
    const api = instanceRefreshApi(clients.asg);
    await expect(api.startRefresh('g', { MinHealthyPercentage: 100 })).resolves.toBe('r-1');
    expect(asgMock.commandCalls(StartInstanceRefreshCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'g',
      Strategy: 'Rolling',
      Preferences: { MinHealthyPercentage: 100 },
    });
    expect((await api.listRefreshes('g')).map((r) => r.InstanceRefreshId)).toEqual(['new', 'old']);
    await api.describeRefresh('g', 'new');
    expect(asgMock.commandCalls(DescribeInstanceRefreshesCommand)[1]?.args[0].input).toEqual({
      AutoScalingGroupName: 'g',
      InstanceRefreshIds: ['new'],
    });
  });
});
