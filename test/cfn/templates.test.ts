// Checks that hold for every template in cfn/ and for the presets.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} here is CloudFormation Fn::Sub syntax, not a JS template.
// biome-ignore-all lint/suspicious/noExplicitAny: assertions walk parsed template JSON whose shape the assertions themselves check.
// biome-ignore-all lint/style/noNonNullAssertion: a missing element fails the assertion that follows, which is the point.
import { readdirSync, readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { branches, loadTemplate } from './cfn-yaml.ts';

const TEMPLATES = ['cfn/runner-fleet.yaml', 'cfn/deployer-role.yaml'];
// Outputs that change on most deploys: an export of them would block the
// update of any stack that imports them.
const NOT_EXPORTED = new Set(['LaunchTemplateVersion', 'ImageId']);

describe.each(TEMPLATES)('%s', (path) => {
  const t = loadTemplate(path);
  const iface = (t.Metadata as any)['AWS::CloudFormation::Interface'];

  it('puts every parameter in exactly one group, with a label where the template has room for labels', () => {
    const grouped = (iface.ParameterGroups as { Parameters: string[] }[]).flatMap((g) => g.Parameters);
    expect([...grouped].sort()).toEqual(Object.keys(t.Parameters).sort());
    expect(new Set(grouped).size).toBe(grouped.length);
    // runner-fleet.yaml leaves labels out to stay within the TemplateBody limit.
    if (path === 'cfn/runner-fleet.yaml') {
      expect(iface.ParameterLabels).toBeUndefined();
      return;
    }
    for (const name of Object.keys(t.Parameters)) {
      expect(iface.ParameterLabels[name]?.default, name).toMatch(/\S/);
    }
  });

  it('gives every constrained string parameter a ConstraintDescription', () => {
    for (const [name, p] of Object.entries(t.Parameters)) {
      if (p.AllowedPattern) expect(p.ConstraintDescription, name).toMatch(/\S/);
    }
  });

  it('exports every stable output as ${AWS::StackName}-<OutputName>, and no changing one', () => {
    for (const [name, output] of Object.entries(t.Outputs ?? {})) {
      if (NOT_EXPORTED.has(name)) expect(output.Export, name).toBeUndefined();
      else expect(output.Export?.Name, name).toEqual({ 'Fn::Sub': `\${AWS::StackName}-${name}` });
    }
  });

  it('names conditions Create*, Use*, Has* or Enable*', () => {
    for (const name of Object.keys(t.Conditions ?? {})) expect(name).toMatch(/^(Create|Use|Has|Enable)[A-Z]/);
  });
});

describe('deployer-role.yaml', () => {
  const t = loadTemplate('cfn/deployer-role.yaml');
  const role = t.Resources.DeployerRole!.Properties as Record<string, any>;
  const statements = role.Policies[0].PolicyDocument.Statement.flatMap(branches) as Record<string, any>[];
  const READ_ONLY = /^[a-z0-9-]+:(Describe|List|Get|ValidateTemplate)/;
  const allows = statements.filter((s) => s.Effect === 'Allow');
  const actionsOf = (s: Record<string, any>) => [s.Action].flat() as string[];
  const bySid = (sid: string) => {
    const s = statements.find((x) => x.Sid === sid);
    if (!s) throw new Error(`no statement ${sid}`);
    return s;
  };
  const boundaryRef = { Ref: 'InstanceRoleBoundary' };

  it('allows write actions on "*" only with a condition', () => {
    for (const s of allows.filter((x) => x.Resource === '*')) {
      const actions = [s.Action].flat() as string[];
      if (actions.every((a) => READ_ONLY.test(a))) continue;
      expect(s.Condition, s.Sid).toBeDefined();
    }
  });

  it('scopes stacks, groups, roles and buckets by the stack name prefix', () => {
    const resources = (sid: string) =>
      [statements.find((s) => s.Sid === sid)!.Resource].flat().map((r: any) => r['Fn::Sub'] as string);
    expect(resources('FleetStacks')[0]).toMatch(/:stack\/\$\{StackNamePrefix\}\*\/\*$/);
    expect(resources('FleetGroups')[0]).toMatch(/autoScalingGroupName\/\$\{StackNamePrefix\}\*$/);
    expect(resources('FleetInstanceRoles')).toEqual([
      'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${StackNamePrefix}*',
      'arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/${StackNamePrefix}*',
    ]);
    expect(resources('FleetCacheBuckets')).toEqual(['arn:${AWS::Partition}:s3:::${StackNamePrefix}*']);
    expect(resources('PublicAmiParameters')[0]).toMatch(/:\*:parameter\/aws\/service\/\*$/);
  });

  it('passes fleet roles to EC2 only, attaches managed policies only to bounded roles, detaches Session Manager core', () => {
    const pass = statements.find((s) => s.Sid === 'PassFleetRolesToEc2Only')!;
    expect(pass.Condition.StringEquals['iam:PassedToService']).toEqual({
      'Fn::Sub': 'ec2.${AWS::URLSuffix}',
    });
    const attach = allows.filter((s) => actionsOf(s).includes('iam:AttachRolePolicy'));
    expect(attach.map((s) => s.Sid)).toEqual(['BoundedFleetRoleManagedPolicies']);
    expect(attach[0]!.Condition).toEqual({ ArnEquals: { 'iam:PermissionsBoundary': boundaryRef } });
    const detach = allows.filter((s) => actionsOf(s).includes('iam:DetachRolePolicy'));
    expect(detach.map((s) => s.Sid)).toEqual([
      'DetachOnlySessionManagerPolicy',
      'BoundedFleetRoleManagedPolicies',
    ]);
    expect(detach[0]!.Condition.ArnEquals['iam:PolicyARN']['Fn::Sub']).toMatch(
      /policy\/AmazonSSMManagedInstanceCore$/,
    );
  });

  it('creates fleet roles and puts policies on them only with the instance role boundary', () => {
    const granting = ['iam:CreateRole', 'iam:PutRolePolicy', 'iam:PutRolePermissionsBoundary'];
    for (const action of granting) {
      const grants = allows.filter((s) => actionsOf(s).includes(action));
      expect(
        grants.map((s) => s.Sid),
        action,
      ).toEqual(['BoundedFleetInstanceRoles']);
    }
    expect(bySid('BoundedFleetInstanceRoles').Condition).toEqual({
      ArnEquals: { 'iam:PermissionsBoundary': boundaryRef },
    });
    expect(bySid('KeepInstanceRoleBoundaries')).toMatchObject({
      Effect: 'Deny',
      Action: 'iam:DeleteRolePermissionsBoundary',
      Resource: '*',
    });
    expect(bySid('NoOtherInstanceRoleBoundaries')).toEqual({
      Sid: 'NoOtherInstanceRoleBoundaries',
      Effect: 'Deny',
      Action: 'iam:PutRolePermissionsBoundary',
      Resource: '*',
      Condition: { ArnNotEquals: { 'iam:PermissionsBoundary': boundaryRef } },
    });
    expect(t.Outputs?.InstanceRoleBoundaryArn?.Value).toEqual(boundaryRef);
  });

  it('bounds fleet roles by the instance contract, Session Manager and the manager’s worker calls, without SSM parameter reads on "*"', () => {
    const boundary = t.Resources.InstanceRoleBoundary!;
    expect(boundary.Type).toBe('AWS::IAM::ManagedPolicy');
    const doc = (boundary.Properties as any).PolicyDocument.Statement as Record<string, any>[];
    expect(doc.every((s) => s.Effect === 'Allow')).toBe(true);
    const onStar = doc
      .filter((s) => s.Resource === '*')
      .flatMap(actionsOf)
      .sort();
    expect(onStar).toEqual([
      // docker-autoscaler managers: describe calls have no resource-level permissions.
      'autoscaling:DescribeAutoScalingGroups',
      'cloudwatch:PutMetricData',
      'ec2:DescribeInstances',
      'ssm:UpdateInstanceInformation',
      'ssmmessages:CreateControlChannel',
      'ssmmessages:CreateDataChannel',
      'ssmmessages:OpenControlChannel',
      'ssmmessages:OpenDataChannel',
    ]);
    const all = doc.flatMap(actionsOf);
    expect(all).not.toContain('ssm:GetParameters');
    expect(all.some((a) => a.startsWith('iam:') || a.endsWith(':*'))).toBe(false);
    // Worker groups only: no manager may resize or empty a runner group.
    expect(doc.find((s) => s.Sid === 'ScaleFleetWorkerGroups')!.Resource['Fn::Sub']).toMatch(
      /autoScalingGroupName\/\$\{StackNamePrefix\}\*-workers$/,
    );
    expect(doc.find((s) => s.Sid === 'SshKeysToFleetWorkers')!.Condition).toEqual({
      StringLike: {
        'ec2:ResourceTag/aws:autoscaling:groupName': { 'Fn::Sub': '${StackNamePrefix}*-workers' },
      },
      StringEquals: { 'ec2:osuser': ['ec2-user', 'ubuntu'] },
    });
    const tokens = doc.find((s) => s.Sid === 'ReadRunnerTokens')!;
    expect(tokens.Resource.map((r: any) => r['Fn::Sub'])).toEqual([
      'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${TokenParameterPrefix}*',
      'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${TokenParameterPrefix}*',
    ]);
  });

  it('reads the token parameters it writes, and uses a customer key only through SSM when one is given', () => {
    const tokens = bySid('ReadWriteRunnerTokenParameters');
    expect(tokens.Action).toContain('ssm:GetParameter');
    expect(tokens.Resource['Fn::Sub']).toMatch(/:parameter\$\{TokenParameterPrefix\}\*$/);
    const kms = role.Policies[0].PolicyDocument.Statement.find(
      (s: any) => s['Fn::If']?.[1]?.Sid === 'RunnerTokenKmsKeyThroughSsmOnly',
    );
    expect(kms['Fn::If'][0]).toBe('HasTokenKmsKey');
    expect(kms['Fn::If'][2]).toEqual({ Ref: 'AWS::NoValue' });
    expect(kms['Fn::If'][1].Resource).toEqual({ Ref: 'TokenKmsKeyArn' });
    expect(kms['Fn::If'][1].Condition.StringEquals['kms:ViaService']).toEqual({
      'Fn::Sub': 'ssm.${AWS::Region}.${AWS::URLSuffix}',
    });
  });

  it('runs instances only from tagged fleet templates and tags what RunInstances creates', () => {
    const run = allows.filter((s) => actionsOf(s).includes('ec2:RunInstances'));
    for (const s of run) expect(s.Resource, s.Sid).not.toBe('*');
    const viaTemplate = bySid('RunInstancesResourcesViaTemplate');
    const types = viaTemplate.Resource.map((r: any) => r['Fn::Sub'].split(':').pop().split('/')[0]);
    expect(types).not.toContain('launch-template');
    expect(types).toEqual(
      expect.arrayContaining([
        'instance',
        'volume',
        'network-interface',
        'subnet',
        'security-group',
        'image',
      ]),
    );
    expect(bySid('RunInstancesFromFleetTemplates').Condition.StringLike).toHaveProperty(
      'aws:ResourceTag/runner-fleet:stack',
    );
    expect(bySid('TagOnCreate').Condition.StringEquals['ec2:CreateAction']).toContain('RunInstances');
  });

  it('reads inline role policies of fleet roles only', () => {
    const getRolePolicy = allows.filter((s) => actionsOf(s).includes('iam:GetRolePolicy'));
    expect(getRolePolicy.map((s) => s.Sid)).toEqual(['FleetInstanceRoles']);
    expect(bySid('Describe').Action).not.toContain('iam:GetRolePolicy');
  });

  it('trusts only the project and ref pattern, for the configured audience', () => {
    const [json, vars] = role.AssumeRolePolicyDocument['Fn::Sub'] as [string, Record<string, unknown>];
    const trust = JSON.parse(json.replace(/\$\{[A-Za-z:]+\}/g, 'X'));
    const [statement] = trust.Statement;
    expect(statement.Action).toBe('sts:AssumeRoleWithWebIdentity');
    expect(json).toContain('"${GitLabHost}:aud": "${Audience}"');
    expect(json).toContain(
      '"${GitLabHost}:sub": "project_path:${ProjectPath}:ref_type:${RefType}:ref:${RefPattern}"',
    );
    expect(vars.Provider).toEqual({
      'Fn::If': ['CreateOidcProvider', { Ref: 'OidcProvider' }, { Ref: 'ExistingOidcProviderArn' }],
    });
  });
});

describe('presets', () => {
  const t = loadTemplate('cfn/runner-fleet.yaml');
  const files = readdirSync('cfn/presets').filter((f) => f.endsWith('.yaml'));
  const SITE_KEYS = [
    'VpcId',
    'SubnetIds',
    'RunnerTokenParameterName',
    'RunnerConfigBundleUrl',
    'RunnerConfigBundleSha256',
  ];

  it('covers the easy buttons of the original and the docker-autoscaler shapes', () => {
    expect(files.sort()).toEqual([
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

  it('tells Graviton (arm64) instance types from the others', () => {
    for (const type of ['m7g.large', 'c7gn.xlarge', 'm6gd.large', 't4g.small', 'a1.large', 'im4gn.large'])
      expect(instanceTypeArchitecture(type), type).toBe('arm64');
    for (const type of ['m7i.large', 'g4dn.xlarge', 'g4ad.xlarge', 'c6a.xlarge', 'gr6.4xlarge', 'm5zn.large'])
      expect(instanceTypeArchitecture(type), type).toBe('amd64');
  });

  describe.each(files)('%s', (file) => {
    const preset = load(readFileSync(`cfn/presets/${file}`, 'utf8')) as Record<string, unknown>;

    it('uses only template parameters with allowed values', () => {
      for (const [key, raw] of Object.entries(preset)) {
        const p = t.Parameters[key];
        expect(p, `${key} is not a template parameter`).toBeDefined();
        const values = p!.Type === 'CommaDelimitedList' ? String(raw).split(',') : [String(raw)];
        for (const value of values) {
          if (p!.AllowedValues) expect((p!.AllowedValues as unknown[]).map(String), key).toContain(value);
          if (p!.AllowedPattern) expect(value, key).toMatch(new RegExp(String(p!.AllowedPattern)));
          if (p!.MinValue !== undefined)
            expect(Number(value), key).toBeGreaterThanOrEqual(Number(p!.MinValue));
          if (p!.MaxValue !== undefined) expect(Number(value), key).toBeLessThanOrEqual(Number(p!.MaxValue));
        }
      }
    });

    it('leaves the site values to the user and carries no token', () => {
      for (const key of SITE_KEYS) expect(preset, key).not.toHaveProperty(key);
      expect(JSON.stringify(preset)).not.toMatch(/glrt-|Token(Parameter|Secret)Name/);
    });

    it("lists only instance types of the AMI's architecture", () => {
      const image = String(preset.ImageIdParameter ?? t.Parameters.ImageIdParameter?.Default);
      const amiArchitecture = /-arm64$/.test(image) ? 'arm64' : 'amd64';
      const types = String(preset.InstanceTypes ?? t.Parameters.InstanceTypes?.Default).split(',');
      for (const type of types)
        expect(instanceTypeArchitecture(type), `${type} with ${image}`).toBe(amiArchitecture);
    });

    it('pairs the OS with a matching AMI parameter', () => {
      const windows = preset.OperatingSystemFamily === 'windows';
      const image = String(preset.ImageIdParameter ?? t.Parameters.ImageIdParameter?.Default);
      expect(
        image.startsWith(
          windows ? '/aws/service/ami-windows-latest/' : '/aws/service/ami-amazon-linux-latest/',
        ),
      ).toBe(true);
    });
  });
});

/**
 * arm64 for AWS Graviton types: a 'g' among the letters after the
 * generation digit (m7g, c7gn, m6gd, t4g, im4gn) or the first-generation a1;
 * amd64 otherwise (g4dn and gr6 are GPU families with the 'g' in front).
 */
function instanceTypeArchitecture(type: string): 'arm64' | 'amd64' {
  const family = type.split('.')[0] ?? '';
  if (family === 'a1') return 'arm64';
  const suffix = /^[a-z]+[0-9]+([a-z-]*)$/.exec(family)?.[1] ?? '';
  return suffix.includes('g') ? 'arm64' : 'amd64';
}
