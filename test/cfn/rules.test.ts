/**
 * The template's Rules, evaluated the way CloudFormation does before it
 * creates a change set (AWS CloudFormation User Guide, "Rules syntax" and
 * "Rule functions": every parameter value is compared as a string; a rule
 * applies when its RuleCondition is true, and fails when any Assert is
 * false). Neither emulator evaluates Rules, nor does cfn-lint with parameter
 * values, so this is the check that the refusals fire and that every preset
 * passes them. Only the functions the template uses are implemented; any
 * other makes the evaluator throw.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadTemplate } from './cfn-yaml.ts';

const t = loadTemplate('cfn/runner-fleet.yaml');
const SITE = {
  VpcId: 'vpc-0123456789abcdef0',
  SubnetIds: 'subnet-0123456789abcdef0',
  RunnerTokenParameterName: '/runner-fleet/example/token',
  RunnerConfigBundleUrl: 'https://example.com/runner-configs.tar.gz',
  RunnerConfigBundleSha256: '0'.repeat(64),
};

type Values = Record<string, string>;
type Rule = { RuleCondition?: unknown; Assertions: { Assert: unknown; AssertDescription: string }[] };

function evaluate(node: unknown, values: Values): string | boolean {
  if (typeof node === 'string' || typeof node === 'boolean') return node;
  const [fn, args] = Object.entries(node as Record<string, unknown>)[0] as [string, unknown];
  const list = args as unknown[];
  switch (fn) {
    case 'Ref': {
      const value = values[args as string];
      if (value === undefined) throw new Error(`no value for ${String(args)}`);
      return value;
    }
    case 'Fn::Equals':
      return String(evaluate(list[0], values)) === String(evaluate(list[1], values));
    case 'Fn::Not':
      return !evaluate(list[0], values);
    case 'Fn::And':
      return list.every((item) => evaluate(item, values) === true);
    case 'Fn::Or':
      return list.some((item) => evaluate(item, values) === true);
    default:
      throw new Error(`rule function ${fn} is not implemented here`);
  }
}

/** The AssertDescription of every assertion that fails for these parameter values. */
function failures(given: Record<string, unknown>): string[] {
  const values: Values = {};
  for (const [name, declaration] of Object.entries(t.Parameters)) {
    if (declaration.Default !== undefined) values[name] = String(declaration.Default);
  }
  for (const [name, value] of Object.entries({ ...SITE, ...given })) values[name] = String(value);
  const failed: string[] = [];
  for (const rule of Object.values(t.Rules ?? {}) as Rule[]) {
    if (rule.RuleCondition !== undefined && evaluate(rule.RuleCondition, values) !== true) continue;
    for (const assertion of rule.Assertions) {
      if (evaluate(assertion.Assert, values) !== true) failed.push(assertion.AssertDescription);
    }
  }
  return failed;
}

describe('runner-fleet.yaml Rules', () => {
  it('refuses classic autoscaling from MinSize 0 and says what to use instead', () => {
    const refused = failures({ FleetMode: 'autoscaling', MinSize: 0 });
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(/cannot scale out from MinSize 0/);
    expect(refused[0]).toMatch(/FleetMode docker-autoscaler/);
    expect(refused[0]).toMatch(/ScheduledScaleDownCron\/ScheduledScaleUpCron/);
    expect(failures({ FleetMode: 'autoscaling', MinSize: 1 })).toEqual([]);
    // Other modes do not scale on metrics, and a schedule reaches zero on its own.
    expect(failures({ FleetMode: 'manual', MinSize: 0 })).toEqual([]);
    expect(failures({ FleetMode: 'docker-autoscaler', MinSize: 0 })).toEqual([]);
  });

  it('refuses docker-autoscaler with Windows', () => {
    expect(
      failures({
        FleetMode: 'docker-autoscaler',
        OperatingSystemFamily: 'windows',
        ImageIdParameter: '/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-Base',
      }),
    ).toEqual([expect.stringMatching(/runs a Linux manager and Linux workers/)]);
    expect(failures({ FleetMode: 'docker-autoscaler', OperatingSystemFamily: 'ubuntu' })).toEqual([]);
  });

  it('refuses extra managed policies on an existing role', () => {
    const arn = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
    expect(failures({ InstanceRoleManagedPolicyArns: arn, ExistingInstanceRoleName: 'mine' })).toEqual([
      expect.stringMatching(/attaches to the role this stack creates/),
    ]);
    expect(failures({ InstanceRoleManagedPolicyArns: arn })).toEqual([]);
  });

  it.each(readdirSync('cfn/presets').filter((f) => f.endsWith('.yaml')))(
    'passes every rule with %s',
    (file) => {
      expect(failures(load(readFileSync(`cfn/presets/${file}`, 'utf8')) as Record<string, unknown>)).toEqual(
        [],
      );
    },
  );
});
