// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} here is CloudFormation Fn::Sub syntax, not a JS template.
// biome-ignore-all lint/suspicious/noExplicitAny: assertions walk parsed template JSON whose shape the assertions themselves check.
// biome-ignore-all lint/style/noNonNullAssertion: a missing element fails the assertion that follows, which is the point.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTemplate } from '../../scripts/config/template.ts';
import { branches, loadTemplate, walk } from './cfn-yaml.ts';

const TEMPLATE_PATH = 'cfn/runner-fleet.yaml';
const t = loadTemplate(TEMPLATE_PATH);
const resource = (name: string) => {
  const r = t.Resources[name];
  if (!r) throw new Error(`no resource ${name}`);
  return r;
};
const props = (name: string) => resource(name).Properties as Record<string, any>;
const launchData = props('LaunchTemplate').LaunchTemplateData as Record<string, any>;

/** The text between a script's opening line and its closing marker (both excluded). */
function between(text: string, open: string, close: string): string {
  const from = text.indexOf(open);
  const to = text.indexOf(close, from + open.length);
  expect(from, open).toBeGreaterThanOrEqual(0);
  expect(to, close).toBeGreaterThan(from);
  return text.slice(from + open.length, to);
}

/**
 * The UserData: Fn::If UseWindows with one whole Fn::Sub script per branch.
 * `linux` has ${WorkerEnv} written out as in docker-autoscaler mode; `env` is
 * the fleet.env lines both scripts write, `workerEnv` the Linux-only extra.
 */
function userDataParts() {
  const [cond, windowsSub, linuxSub] = launchData.UserData['Fn::Base64']['Fn::If'];
  expect(cond).toBe('UseWindows');
  const [windows, windowsVariables] = windowsSub['Fn::Sub'] as [string, Record<string, any>];
  const [linuxText, linuxVariables] = linuxSub['Fn::Sub'] as [string, Record<string, any>];
  const [cond2, workerEnvSub, noWorkerEnv] = linuxVariables.WorkerEnv['Fn::If'];
  expect(cond2).toBe('UseDockerAutoscaler');
  expect(noWorkerEnv).toBe('');
  const workerEnv = workerEnvSub['Fn::Sub'][0] as string;
  const windowsEnv = between(windows, "-Value @'\n", "'@\n");
  const linuxEnv = between(linuxText, "<<'FLEET_ENV'\n", '${WorkerEnv}FLEET_ENV\n');
  return {
    linux: linuxText.replace('${WorkerEnv}', workerEnv),
    windows,
    env: linuxEnv,
    windowsEnv,
    workerEnv,
    linuxVariables,
    windowsVariables,
  };
}

describe('runner-fleet.yaml launch template', () => {
  it('requires IMDSv2 with one hop and exposes instance tags', () => {
    expect(launchData.MetadataOptions).toEqual({
      HttpEndpoint: 'enabled',
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 1,
      InstanceMetadataTags: 'enabled',
    });
  });

  it('encrypts the root volume and opens no public address unless asked', () => {
    const [mapping] = launchData.BlockDeviceMappings;
    expect(mapping.Ebs.Encrypted).toBe(true);
    expect(mapping.Ebs.VolumeType).toEqual({ Ref: 'RootVolumeType' });
    expect(t.Parameters.RootVolumeType?.Default).toBe('gp3');
    expect(t.Parameters.AssociatePublicIpAddress?.Default).toBe('false');
  });

  it('never carries a token value: only the token parameter or secret name reaches it', () => {
    const text = JSON.stringify(resource('LaunchTemplate'));
    expect(text).not.toMatch(/glrt-/);
    const referenced = new Set<string>();
    for (const node of walk(resource('LaunchTemplate'))) {
      if (node && typeof node === 'object' && 'Ref' in node) referenced.add(String((node as any).Ref));
      if (typeof node === 'string')
        for (const m of node.matchAll(/\$\{([A-Za-z0-9:]+)\}/g)) referenced.add(m[1]!);
    }
    const tokenish = [...referenced].filter((name) => /token|secret|password/i.test(name)).sort();
    expect(tokenish).toEqual([
      'RunnerTokenKind',
      'RunnerTokenParameterName',
      'RunnerTokenSecretName',
      'TokenSource',
    ]);
    // No parameter may be meant to carry a secret value.
    for (const [name, p] of Object.entries(t.Parameters)) {
      expect(p.NoEcho, name).toBeUndefined();
      expect(String(p.Default ?? ''), name).not.toMatch(/^glrt-/);
    }
    for (const variables of [userDataParts().linuxVariables, userDataParts().windowsVariables]) {
      expect(variables.TokenSource).toEqual({
        'Fn::If': [
          'UseSsmToken',
          { 'Fn::Sub': 'ssm:${RunnerTokenParameterName}' },
          { 'Fn::Sub': 'secretsmanager:${RunnerTokenSecretName}' },
        ],
      });
    }
  });

  it('writes the same fleet.env from both scripts, with the same values (each branch is one whole script)', () => {
    const { env, windowsEnv, linuxVariables, windowsVariables } = userDataParts();
    expect(windowsEnv).toBe(env);
    const { WorkerEnv: _linuxOnly, ...shared } = linuxVariables;
    expect(windowsVariables).toEqual(shared);
  });

  it('writes exactly the fleet.env keys of the instance contract', () => {
    const contract = readFileSync('docs/instance-contract.md', 'utf8');
    const contractKeys = [...contract.matchAll(/^\| `(RF_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    const envKeys = (userDataParts().env + userDataParts().workerEnv)
      .trim()
      .split('\n')
      .map((line) => line.split('=')[0]);
    expect(contractKeys.length).toBeGreaterThan(10);
    expect(envKeys).toEqual(contractKeys);
    expect(userDataParts().env).toContain('RF_LAUNCH_HOOK=${LaunchHook}');
  });

  it('verifies the bundle SHA-256 on Linux before extracting or running anything', () => {
    const { linux } = userDataParts();
    const check = linux.indexOf('sha256sum --check --strict');
    expect(check).toBeGreaterThan(0);
    expect(linux).toContain("readonly bundle_sha256='${RunnerConfigBundleSha256}'");
    expect(linux).toMatch(/echo "\$bundle_sha256 {2}\$tmp" \| sha256sum --check/);
    expect(linux.indexOf('tar -xzf')).toBeGreaterThan(check);
    expect(linux.indexOf('exec "$dir/${Executor}.sh"')).toBeGreaterThan(check);
    // A mismatch abandons the launch instead of going on.
    expect(linux.slice(check, linux.indexOf('tar -xzf'))).toContain('abandon');
    expect(linux).toContain('--lifecycle-action-result ABANDON');
  });

  it('verifies the bundle SHA-256 on Windows before extracting or running anything', () => {
    const { windows } = userDataParts();
    expect(windows.startsWith('<powershell>')).toBe(true);
    expect(windows.trimEnd().endsWith('</powershell>')).toBe(true);
    expect(windows).toContain("$bundleSha256 = '${RunnerConfigBundleSha256}'");
    const check = windows.indexOf('if ($actual -ne $bundleSha256) { throw');
    expect(check).toBeGreaterThan(windows.indexOf('Get-FileHash -Algorithm SHA256'));
    expect(windows.indexOf('Expand-Archive')).toBeGreaterThan(check);
    expect(windows.indexOf("& (Join-Path $dir '${RunnerExecutor}.ps1')")).toBeGreaterThan(check);
    expect(windows).toContain('-LifecycleActionResult ABANDON');
  });

  it('renders a Linux bootstrap that bash parses', () => {
    const rendered = userDataParts().linux.replace(/\$\{([A-Za-z0-9:]+)\}/g, 'x');
    expect(() => execFileSync('bash', ['-n'], { input: rendered })).not.toThrow();
  });

  it('fits CloudFormation TemplateBody (51,200 bytes) as the deployer sends it, so no upload bucket is needed', () => {
    // Over the limit as YAML, the deployer sends compact JSON (scripts/config/template.ts).
    const sent = parseTemplate(TEMPLATE_PATH, readFileSync(TEMPLATE_PATH, 'utf8')).body;
    expect(Buffer.byteLength(sent)).toBeLessThan(51_200);
  });
});

describe('runner-fleet.yaml Auto Scaling group', () => {
  const asg = props('AutoScalingGroup');

  it('points at the latest launch template version and has no replacing/rolling update policy', () => {
    expect(asg.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.Version).toEqual({
      'Fn::GetAtt': ['LaunchTemplate', 'LatestVersionNumber'],
    });
    expect(Object.keys(resource('AutoScalingGroup').UpdatePolicy as object)).toEqual([
      'AutoScalingScheduledAction',
    ]);
    expect(asg.CapacityRebalance).toBe(true);
  });

  it('takes the whole instance type list in one override', () => {
    const [override] =
      asg.MixedInstancesPolicy.Overrides ?? asg.MixedInstancesPolicy.LaunchTemplate.Overrides;
    expect(override.InstanceRequirements.AllowedInstanceTypes).toEqual({
      'Fn::If': ['HasInstanceTypeList', { Ref: 'InstanceTypes' }, { Ref: 'AWS::NoValue' }],
    });
    expect(t.Parameters.InstanceTypes?.Type).toBe('CommaDelimitedList');
    expect(t.Parameters.SpotAllocationStrategy?.Default).toBe('price-capacity-optimized');
  });

  it('has a launch hook that abandons and a terminate hook that continues, with the configured heartbeat', () => {
    const hooks = asg.LifecycleHookSpecificationList as Record<string, unknown>[];
    const byTransition = Object.fromEntries(hooks.map((h) => [h.LifecycleTransition, h]));
    expect(byTransition['autoscaling:EC2_INSTANCE_LAUNCHING']).toMatchObject({
      DefaultResult: 'ABANDON',
      HeartbeatTimeout: { Ref: 'LifecycleHeartbeatTimeout' },
      LifecycleHookName: { 'Fn::FindInMap': ['LifecycleHooks', 'Names', 'Launch'] },
    });
    expect(byTransition['autoscaling:EC2_INSTANCE_TERMINATING']).toMatchObject({
      DefaultResult: 'CONTINUE',
      HeartbeatTimeout: { Ref: 'LifecycleHeartbeatTimeout' },
      LifecycleHookName: { 'Fn::FindInMap': ['LifecycleHooks', 'Names', 'Terminate'] },
    });
    expect((t.Mappings as any).LifecycleHooks.Names).toEqual({
      Launch: 'runner-fleet-launch',
      Terminate: 'runner-fleet-terminate',
    });
    expect(Number(t.Parameters.LifecycleHeartbeatTimeout?.MaxValue)).toBe(7200);
  });

  it('scales on JobSlotSaturation of its own group in the fleet namespace by default', () => {
    const tracking = props('ScalingPolicy').TargetTrackingConfiguration;
    const custom = tracking.CustomizedMetricSpecification['Fn::If'][2];
    expect(custom.MetricName).toEqual({
      'Fn::If': ['UseMemoryScaling', 'MemoryUtilization', 'JobSlotSaturation'],
    });
    expect(custom.Namespace).toEqual({ Ref: 'MetricsNamespace' });
    expect(custom.Dimensions).toEqual([{ Name: 'AutoScalingGroupName', Value: { Ref: 'AutoScalingGroup' } }]);
    expect(t.Parameters.ScalingMetric?.Default).toBe('job-slot-saturation');
  });

  it('has a security group without ingress', () => {
    expect(props('SecurityGroup').SecurityGroupIngress).toBeUndefined();
    expect(Object.values(t.Resources).map((r) => r.Type)).not.toContain('AWS::EC2::SecurityGroupIngress');
  });
});

describe('runner-fleet.yaml instance policy', () => {
  const statements = (props('InstancePolicy').PolicyDocument.Statement as unknown[]).flatMap(
    branches,
  ) as Record<string, any>[];
  const bySid = (sid: string) => {
    const s = statements.find((x) => x.Sid === sid);
    if (!s) throw new Error(`no statement ${sid}`);
    return s;
  };

  it('uses Resource "*" only for Session Manager and for PutMetricData with the namespace condition', () => {
    const wildcard = statements.filter((s) => s.Resource === '*');
    expect(wildcard.map((s) => s.Sid)).toEqual(['SessionManagerOnly', 'MetricsInFleetNamespaceOnly']);
    expect(bySid('MetricsInFleetNamespaceOnly').Condition).toEqual({
      StringEquals: { 'cloudwatch:namespace': { Ref: 'MetricsNamespace' } },
    });
    expect(bySid('SessionManagerOnly').Action).toEqual([
      'ssm:UpdateInstanceInformation',
      'ssmmessages:CreateControlChannel',
      'ssmmessages:CreateDataChannel',
      'ssmmessages:OpenControlChannel',
      'ssmmessages:OpenDataChannel',
    ]);
  });

  it('attaches no managed policy of its own, so no role gets ssm:GetParameter(s) on every parameter', () => {
    for (const [name, r] of Object.entries(t.Resources)) {
      if (name === 'InstanceRole') continue;
      expect((r.Properties as any)?.ManagedPolicyArns, name).toBeUndefined();
      expect(r.Type, name).not.toBe('AWS::IAM::ManagedPolicy');
    }
    // Only the consumer's own list, empty by default, within the boundary.
    expect(props('InstanceRole').ManagedPolicyArns).toEqual({
      'Fn::If': [
        'HasManagedPolicyArns',
        { 'Fn::Split': [',', { Ref: 'InstanceRoleManagedPolicyArns' }] },
        { Ref: 'AWS::NoValue' },
      ],
    });
    expect(t.Parameters.InstanceRoleManagedPolicyArns?.Default).toBe('');
    expect(JSON.stringify(t)).not.toContain('AmazonSSMManagedInstanceCore');
    const ssmReads = statements.filter((s) =>
      [s.Action].flat().some((a: string) => /^ssm:GetParameters?$/.test(a)),
    );
    expect(ssmReads.map((s) => s.Sid)).toEqual(['ReadRunnerTokenParameterOnly']);
  });

  it('applies the permissions boundary to the created role when one is given', () => {
    expect(props('InstanceRole').PermissionsBoundary).toEqual({
      'Fn::If': [
        'HasInstanceRoleBoundary',
        { Ref: 'InstanceRolePermissionsBoundaryArn' },
        { Ref: 'AWS::NoValue' },
      ],
    });
    expect(t.Conditions?.HasInstanceRoleBoundary).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'InstanceRolePermissionsBoundaryArn' }, ''] }],
    });
    const parameter = t.Parameters.InstanceRolePermissionsBoundaryArn!;
    expect(parameter.Default).toBe('');
    const pattern = new RegExp(String(parameter.AllowedPattern));
    expect('arn:aws:iam::123456789012:policy/runner-fleet-boundary').toMatch(pattern);
    expect('').toMatch(pattern);
    expect('arn:aws:iam::aws:policy/AdministratorAccess').not.toMatch(pattern);
  });

  it('names its policy per stack, so two stacks can share an existing role', () => {
    expect(props('InstancePolicy').PolicyName).toEqual({ 'Fn::Sub': 'runner-fleet-${AWS::StackName}' });
  });

  it('scopes lifecycle calls to this stack group by name', () => {
    const s = bySid('LifecycleOfThisGroupOnly');
    expect(s.Resource['Fn::Sub']).toMatch(
      /:autoScalingGroup:\*:autoScalingGroupName\/\$\{AWS::StackName\}-runners$/,
    );
    expect(props('AutoScalingGroup').AutoScalingGroupName).toEqual({
      'Fn::Sub': '${AWS::StackName}-runners',
    });
  });

  it('reads only the named token parameter or secret', () => {
    expect(bySid('ReadRunnerTokenParameterOnly')).toMatchObject({
      Action: 'ssm:GetParameter',
      Resource: { 'Fn::Sub': expect.stringMatching(/:parameter\$\{RunnerTokenParameterName\}$/) },
    });
    expect(bySid('ReadRunnerTokenSecretOnly').Resource['Fn::Sub']).toMatch(
      /:secret:\$\{RunnerTokenSecretName\}-\?{6}$/,
    );
    expect(bySid('DecryptRunnerTokenParameterOnly').Condition.StringEquals).toHaveProperty(
      'kms:EncryptionContext:PARAMETER_ARN',
    );
  });

  it('writes logs only to its log group and the cache only in its bucket', () => {
    // The group's Arn attribute ends with :*, so it covers its streams.
    expect(bySid('WriteFleetLogGroupOnly').Resource).toEqual({ 'Fn::GetAtt': ['LogGroup', 'Arn'] });
    const objects = bySid('CacheBucketObjectsOnly');
    expect(objects.Resource['Fn::Sub'][0]).toBe('arn:${AWS::Partition}:s3:::${Bucket}/*');
    expect(objects.Resource['Fn::Sub'][1].Bucket).toEqual({
      'Fn::If': ['CreateCacheBucket', { Ref: 'CacheBucket' }, { Ref: 'ExistingCacheBucketName' }],
    });
  });
});

describe('runner-fleet.yaml cache bucket', () => {
  it('is encrypted, private, expiring and TLS-only', () => {
    const bucket = props('CacheBucket');
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(
      bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
    ).toBe('AES256');
    expect(bucket.LifecycleConfiguration.Rules[0].ExpirationInDays).toEqual({ Ref: 'CacheExpirationDays' });
    const [deny] = props('CacheBucketPolicy').PolicyDocument.Statement;
    expect(deny).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
  });
});

describe('runner-fleet.yaml rules and limits', () => {
  it('refuses a DesiredCapacity in autoscaling mode', () => {
    expect((t.Rules as any).AutoscalingLeavesDesiredCapacityEmpty).toMatchObject({
      RuleCondition: { 'Fn::Equals': [{ Ref: 'FleetMode' }, 'autoscaling'] },
      Assertions: [{ Assert: { 'Fn::Equals': [{ Ref: 'DesiredCapacity' }, ''] } }],
    });
  });

  it('keeps MaxDrainSeconds below the 48 h limit of a lifecycle action', () => {
    expect(Number(t.Parameters.MaxDrainSeconds?.MaxValue)).toBeLessThan(172_800);
  });

  it('maps every operating system family to a root device', () => {
    const devices = (t.Mappings as any).OperatingSystems;
    expect(Object.keys(devices).sort()).toEqual(
      [...(t.Parameters.OperatingSystemFamily!.AllowedValues as string[])].sort(),
    );
    expect(devices.linux.RootDevice).toBe('/dev/xvda');
    expect(devices.ubuntu.RootDevice).toBe('/dev/sda1');
  });
});

describe('runner-fleet.yaml docker-autoscaler workers', () => {
  const workers = props('WorkerGroup');
  const workerData = props('WorkerLaunchTemplate').LaunchTemplateData as Record<string, any>;
  const fleeting = props('ManagerFleetingPolicy').PolicyDocument.Statement as Record<string, any>[];
  const sid = (name: string) => {
    const statement = fleeting.find((s) => s.Sid === name);
    if (!statement) throw new Error(`no statement ${name}`);
    return statement;
  };
  const WORKER_GROUP_ARN =
    'arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/${AWS::StackName}-workers';

  it('exist only in docker-autoscaler mode', () => {
    for (const name of [
      'WorkerGroup',
      'WorkerLaunchTemplate',
      'WorkerSecurityGroup',
      'ManagerFleetingPolicy',
    ]) {
      expect(resource(name).Condition, name).toBe('UseDockerAutoscaler');
    }
    expect((t.Conditions as any).UseDockerAutoscaler).toEqual({
      'Fn::Equals': [{ Ref: 'FleetMode' }, 'docker-autoscaler'],
    });
  });

  it('start at zero, scale-in protected, with no hooks, no rebalancing and no desired capacity of their own', () => {
    expect(workers.MinSize).toBe(0);
    expect(workers.MaxSize).toEqual({ Ref: 'WorkerMaxInstances' });
    expect(workers.DesiredCapacity).toBeUndefined();
    expect(workers.NewInstancesProtectedFromScaleIn).toBe(true);
    expect(workers.CapacityRebalance).toBe(false);
    expect(workers.LifecycleHookSpecificationList).toBeUndefined();
    for (const r of Object.values(t.Resources)) {
      if (r.Type.startsWith('AWS::AutoScaling::') && r.Type !== 'AWS::AutoScaling::AutoScalingGroup') {
        expect((r.Properties as any).AutoScalingGroupName).not.toEqual({ Ref: 'WorkerGroup' });
      }
    }
  });

  it('take the spot settings and instance types; the manager follows ManagerCapacityType', () => {
    expect(workers.MixedInstancesPolicy.InstancesDistribution).toMatchObject({
      OnDemandBaseCapacity: { Ref: 'OnDemandBaseCapacity' },
      OnDemandPercentageAboveBaseCapacity: { Ref: 'OnDemandPercentageAboveBaseCapacity' },
      SpotAllocationStrategy: { Ref: 'SpotAllocationStrategy' },
    });
    expect(workers.MixedInstancesPolicy.LaunchTemplate.Overrides).toEqual(
      props('AutoScalingGroup').MixedInstancesPolicy.LaunchTemplate.Overrides,
    );
    expect(props('AutoScalingGroup').MixedInstancesPolicy.InstancesDistribution.OnDemandBaseCapacity).toEqual(
      {
        'Fn::If': [
          'UseDockerAutoscaler',
          { 'Fn::If': ['UseSpotManager', 0, 1] },
          { Ref: 'OnDemandBaseCapacity' },
        ],
      },
    );
    expect(t.Parameters.ManagerCapacityType?.Default).toBe('on-demand');
  });

  it('have no role, IMDSv2 with one hop, and admit only SSH from the manager', () => {
    expect(workerData.IamInstanceProfile).toBeUndefined();
    expect(workerData.MetadataOptions).toEqual({
      HttpEndpoint: 'enabled',
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 1,
    });
    expect(workerData.NetworkInterfaces[0].Groups).toEqual([{ Ref: 'WorkerSecurityGroup' }]);
    const ingress = props('WorkerSecurityGroup').SecurityGroupIngress as Record<string, unknown>[];
    expect(ingress).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        SourceSecurityGroupId: { Ref: 'SecurityGroup' },
      }),
    ]);
    expect(resource('SecurityGroup').Condition).toBe('CreateManagerSecurityGroup');
  });

  it('let the manager scale and terminate only the worker group, and push keys only to its instances', () => {
    expect(sid('ScaleWorkerGroupOnly')).toMatchObject({
      Action: [
        'autoscaling:SetDesiredCapacity',
        'autoscaling:TerminateInstanceInAutoScalingGroup',
        'autoscaling:SuspendProcesses',
      ],
      Resource: { 'Fn::Sub': WORKER_GROUP_ARN },
    });
    expect(sid('SshKeysToWorkersOnly')).toMatchObject({
      Action: 'ec2-instance-connect:SendSSHPublicKey',
      Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*' },
      Condition: {
        StringEquals: {
          'ec2:ResourceTag/aws:autoscaling:groupName': { 'Fn::Sub': '${AWS::StackName}-workers' },
          'ec2:osuser': { 'Fn::FindInMap': ['OperatingSystems', { Ref: 'OperatingSystemFamily' }, 'User'] },
        },
      },
    });
    // Describe calls have no resource-level permissions in IAM: the only '*'.
    const wildcard = fleeting.filter((s) => s.Resource === '*');
    expect(wildcard.map((s) => s.Sid)).toEqual(['DescribeWorkers']);
    expect(sid('DescribeWorkers').Action).toEqual([
      'autoscaling:DescribeAutoScalingGroups',
      'ec2:DescribeInstances',
    ]);
    expect(props('WorkerGroup').AutoScalingGroupName).toEqual({ 'Fn::Sub': '${AWS::StackName}-workers' });
  });

  it('write the worker settings into fleet.env only in docker-autoscaler mode', () => {
    const { workerEnv } = userDataParts();
    expect(workerEnv).toContain('RF_WORKER_GROUP=${AWS::StackName}-workers');
    expect(workerEnv).toContain('RF_WORKER_MAX_USE_COUNT=${WorkerMaxUseCount}');
  });
});
