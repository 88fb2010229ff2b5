/**
 * Every preset of cfn/presets/ deploys the fleet template through the real
 * `runner-fleet deploy` on moto, with only the site values a user supplies,
 * and `runner-fleet destroy` removes it again, emptying the cache bucket.
 *
 * Emulator notes (docs/fleet-stack.md): ministack cannot evaluate Fn::Split in
 * Conditions (it answers InternalError "0"), so these run on moto; moto keeps
 * `!If [..., !Ref AWS::NoValue]` list items as null, which breaks the IAM
 * policy of an https:// bundle, so the bundle here is on s3:// (the https path
 * is covered by cfn-lint and the template tests). Neither emulator has the
 * Windows public AMI parameter nor lets a test create one under /aws/, so the
 * Windows presets get an AMI parameter of the test's own: a value a user may
 * give too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  paginateListStackResources,
} from '@aws-sdk/client-cloudformation';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../support/cli-process.ts';
import { defaultVpc } from '../support/default-vpc.ts';
import { type Emulator, ROOT, startEmulator } from '../support/emulator.ts';

const TEMPLATE = join(ROOT, 'cfn/runner-fleet.yaml');
const PRESETS = readdirSync(join(ROOT, 'cfn/presets'))
  .filter((file) => file.endsWith('.yaml'))
  .sort();
const WINDOWS_AMI_PARAMETER = '/runner-fleet-test/windows-server-2022-ami';

type Preset = Record<string, string | number> & { FleetMode: string };

describe('presets on moto', () => {
  let emulator: Emulator;
  let site: string[];
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const client = <T>(Client: new (config: object) => T): T =>
    new Client({ endpoint: emulator.endpoint, region: 'us-east-1', credentials, forcePathStyle: true });

  beforeAll(async () => {
    emulator = await startEmulator('moto');
    const { vpc, subnets } = await defaultVpc(emulator.endpoint);
    const ssm = client(SSMClient);
    await ssm.send(
      new PutParameterCommand({
        Name: WINDOWS_AMI_PARAMETER,
        Type: 'String',
        Value: 'ami-0123456789abcdef0',
      }),
    );
    ssm.destroy();
    site = [
      `VpcId=${vpc}`,
      `SubnetIds=${subnets.join(',')}`,
      'RunnerConfigBundleUrl=s3://runner-fleet-artifacts/v1/runner-configs-linux.tar.gz',
      `RunnerConfigBundleSha256=${'a'.repeat(64)}`,
      'RunnerTokenParameterName=/runner-fleet/test/runner-token',
    ].flatMap((pair) => ['--parameter', pair]);
  });
  afterAll(async () => emulator?.stop());

  it("has the original's easy buttons and the docker-autoscaler shapes", () => {
    expect(PRESETS).toEqual([
      'linux-docker-autoscaler-arm64.yaml',
      'linux-docker-autoscaler-spot.yaml',
      'linux-docker-autoscaling-mixed.yaml',
      'linux-docker-autoscaling-ondemand.yaml',
      'linux-docker-autoscaling-spot.yaml',
      'linux-docker-hot-ha-ondemand.yaml',
      'linux-docker-warm-ha-ondemand.yaml',
      'linux-docker-warm-ha-spot.yaml',
      'windows-shell-autoscaling.yaml',
      'windows-shell-warm-ha.yaml',
    ]);
  });

  it.each(PRESETS)('deploys %s with only the site values', async (preset) => {
    const stackName = `preset-${preset.replace(/\.yaml$/, '')}`;
    const windows = preset.startsWith('windows-')
      ? ['--parameter', `ImageIdParameter=${WINDOWS_AMI_PARAMETER}`]
      : [];
    const result = await runCliProcess(
      [
        'deploy',
        '--stack-name',
        stackName,
        '--template-file',
        TEMPLATE,
        '--parameters',
        join(ROOT, 'cfn/presets', preset),
        ...site,
        ...windows,
      ],
      emulator.env,
    );
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain(`Stack ${stackName} CREATE_COMPLETE`);
    const cfn = client(CloudFormationClient);
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
    cfn.destroy();
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    const family = stack?.Parameters?.find((p) => p.ParameterKey === 'OperatingSystemFamily')?.ParameterValue;
    expect(family).toBe(preset.startsWith('windows-') ? 'windows' : 'linux');
    const values = load(readFileSync(join(ROOT, 'cfn/presets', preset), 'utf8')) as Preset;
    expect(stack?.Parameters?.find((p) => p.ParameterKey === 'FleetMode')?.ParameterValue).toBe(
      values.FleetMode,
    );
    await expectLandedShape(stackName, values);
  });

  /**
   * What the groups on the emulator hold must be what the preset asks for:
   * sizes per mode, the spot/on-demand split and strategy, and in
   * docker-autoscaler mode a one-instance on-demand manager group beside a
   * worker group that starts at zero, scale-in protected, without capacity
   * rebalancing.
   */
  async function expectLandedShape(stackName: string, preset: Preset): Promise<void> {
    const autoscaling = client(AutoScalingClient);
    const groups = new Map(
      (
        (
          await autoscaling.send(
            new DescribeAutoScalingGroupsCommand({
              AutoScalingGroupNames: [`${stackName}-runners`, `${stackName}-workers`],
            }),
          )
        ).AutoScalingGroups ?? []
      ).map((g) => [g.AutoScalingGroupName, g]),
    );
    autoscaling.destroy();
    const runners = groups.get(`${stackName}-runners`);
    const workers = groups.get(`${stackName}-workers`);
    const distribution = (g: typeof runners) => g?.MixedInstancesPolicy?.InstancesDistribution;
    const mode = preset.FleetMode;
    const sizes: Record<string, [number, number]> = {
      'warm-ha': [1, 1],
      'hot-ha': [2, 2],
      'docker-autoscaler': [1, 1],
      autoscaling: [Number(preset.MinSize), Number(preset.MaxSize)],
    };
    expect([runners?.MinSize, runners?.MaxSize], `${mode} sizes`).toEqual(sizes[mode]);
    const presetSplit = {
      OnDemandBaseCapacity: Number(preset.OnDemandBaseCapacity),
      OnDemandPercentageAboveBaseCapacity: Number(preset.OnDemandPercentageAboveBaseCapacity),
    };
    if (mode === 'docker-autoscaler') {
      // The manager is on-demand; the preset's split and strategy are the workers'.
      expect(distribution(runners)).toMatchObject({
        OnDemandBaseCapacity: 1,
        OnDemandPercentageAboveBaseCapacity: 100,
      });
      expect(workers, 'worker group').toBeDefined();
      expect([workers?.MinSize, workers?.MaxSize]).toEqual([0, Number(preset.WorkerMaxInstances)]);
      expect(workers?.DesiredCapacity).toBe(0);
      expect(workers?.NewInstancesProtectedFromScaleIn).toBe(true);
      expect(workers?.CapacityRebalance).toBe(false);
      expect(distribution(workers)).toMatchObject({
        ...presetSplit,
        SpotAllocationStrategy: preset.SpotAllocationStrategy,
      });
      expect(
        workers?.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification?.LaunchTemplateName,
      ).toBe(`${stackName}-workers`);
    } else {
      expect(workers, 'no worker group outside docker-autoscaler mode').toBeUndefined();
      expect(distribution(runners)).toMatchObject({
        ...presetSplit,
        ...(preset.SpotAllocationStrategy ? { SpotAllocationStrategy: preset.SpotAllocationStrategy } : {}),
      });
    }
  }

  it('destroys a fleet, emptying its cache bucket first', async () => {
    const stackName = 'preset-linux-docker-autoscaling-spot';
    const cfn = client(CloudFormationClient);
    let bucket = '';
    for await (const page of paginateListStackResources({ client: cfn }, { StackName: stackName })) {
      bucket =
        page.StackResourceSummaries?.find((r) => r.LogicalResourceId === 'CacheBucket')?.PhysicalResourceId ??
        bucket;
    }
    cfn.destroy();
    expect(bucket).not.toBe('');
    const s3 = client(S3Client);
    for (const key of ['project/1/cache.zip', 'project/2/cache.zip']) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'cache' }));
    }
    const result = await runCliProcess(
      ['destroy', '--stack-name', stackName, '--yes-destroy-stack', stackName],
      emulator.env,
    );
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain(
      `Emptied cache bucket ${bucket} (2 object(s)) so the stack can delete it`,
    );
    expect(result.stdout).toContain(`Stack ${stackName} DELETE_COMPLETE`);
    await expect(s3.send(new ListObjectsV2Command({ Bucket: bucket }))).rejects.toThrow(/does not exist/);
    s3.destroy();
  });
});
