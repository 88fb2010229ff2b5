// Checks that hold for every template in cfn/ and for the presets.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} here is CloudFormation Fn::Sub syntax, not a JS template.
// biome-ignore-all lint/suspicious/noExplicitAny: assertions walk parsed template JSON whose shape the assertions themselves check.
// biome-ignore-all lint/style/noNonNullAssertion: a missing element fails the assertion that follows, which is the point.
import { readdirSync, readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { branches, loadTemplate } from './cfn-yaml.ts';

const TEMPLATES = ['cfn/runner-fleet.yaml', 'cfn/deployer-role.yaml'];

describe.each(TEMPLATES)('%s', (path) => {
  const t = loadTemplate(path);
  const iface = (t.Metadata as any)['AWS::CloudFormation::Interface'];

  it('puts every parameter in exactly one group, with a label', () => {
    const grouped = (iface.ParameterGroups as { Parameters: string[] }[]).flatMap((g) => g.Parameters);
    expect([...grouped].sort()).toEqual(Object.keys(t.Parameters).sort());
    expect(new Set(grouped).size).toBe(grouped.length);
    for (const name of Object.keys(t.Parameters)) {
      expect(iface.ParameterLabels[name]?.default, name).toMatch(/\S/);
    }
  });

  it('gives every constrained string parameter a ConstraintDescription', () => {
    for (const [name, p] of Object.entries(t.Parameters)) {
      if (p.AllowedPattern) expect(p.ConstraintDescription, name).toMatch(/\S/);
    }
  });

  it('exports every output as ${AWS::StackName}-<OutputName>', () => {
    for (const [name, output] of Object.entries(t.Outputs ?? {})) {
      expect(output.Export?.Name, name).toEqual({ 'Fn::Sub': `\${AWS::StackName}-${name}` });
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

  it('allows write actions on "*" only with a condition', () => {
    for (const s of statements.filter((x) => x.Resource === '*')) {
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
    expect(resources('PublicAmiParameters')[0]).toMatch(/::parameter\/aws\/service\/\*$/);
  });

  it('passes fleet roles to EC2 only and attaches no policy but Session Manager core', () => {
    const pass = statements.find((s) => s.Sid === 'PassFleetRolesToEc2Only')!;
    expect(pass.Condition.StringEquals['iam:PassedToService']).toEqual({
      'Fn::Sub': 'ec2.${AWS::URLSuffix}',
    });
    const attach = statements.find((s) => s.Sid === 'AttachOnlySessionManagerPolicy')!;
    expect(attach.Condition.ArnEquals['iam:PolicyARN']['Fn::Sub']).toMatch(
      /policy\/AmazonSSMManagedInstanceCore$/,
    );
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

  it('covers the easy buttons of the original', () => {
    expect(files.sort()).toEqual([
      'linux-docker-autoscaling-mixed.yaml',
      'linux-docker-autoscaling-spot.yaml',
      'linux-docker-warm-ha-ondemand.yaml',
      'linux-docker-warm-ha-spot.yaml',
      'windows-shell-autoscaling.yaml',
      'windows-shell-warm-ha.yaml',
    ]);
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
