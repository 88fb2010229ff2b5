/**
 * Classification, parameter comparison, Markdown and Terraform counts of a
 * preview, from recorded-shape DescribeChangeSet responses
 * (test/fixtures/change-sets). The Markdown is compared with golden files;
 * UPDATE_GOLDEN=1 rewrites them after an intended change.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Change, Parameter, Stack } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import { parseCloudFormationDocument } from '../../scripts/config/cfn-yaml.ts';
import { resolveParameters } from '../../scripts/config/stack-parameters.ts';
import { parseTemplate } from '../../scripts/config/template.ts';
import { parameterUsers } from '../../scripts/config/template-references.ts';
import {
  buildPreviewReport,
  classifyResourceChange,
  type PreviewReport,
} from '../../scripts/preview/classify.ts';
import { evaluateGate, type GateOptions } from '../../scripts/preview/gate.ts';
import { renderMarkdown, summaryLine } from '../../scripts/render/change-set-report.ts';
import { renderTerraformReport, terraformReport } from '../../scripts/render/terraform-report.ts';
import {
  expectGolden,
  fleetTemplate,
  fleetUsers,
  loadScenario,
  ROOT,
  SCENARIO_INPUTS,
} from './preview-scenarios.ts';

function reportFor(name: string): PreviewReport {
  const { stack, pages } = loadScenario(name);
  const given = new Map(Object.entries(SCENARIO_INPUTS[name] ?? {}));
  const resolution = resolveParameters(fleetTemplate.parameters, given, stack);
  expect(resolution.problems).toEqual([]);
  return buildPreviewReport({
    stackName: 'fleet-prod',
    changeSetType: 'UPDATE',
    templatePath: 'cfn/runner-fleet.yaml',
    changeSetName: pages[0]?.ChangeSetName ?? '',
    changeSetKept: false,
    changes: pages.flatMap((page) => page.Changes ?? []),
    stackParameters: stack.Parameters ?? [],
    changeSetParameters: pages[0]?.Parameters ?? [],
    declared: fleetTemplate.parameters,
    resolved: resolution.parameters,
    parameterUsers: fleetUsers,
  });
}

const NO_GATE: GateOptions = {
  failOnReplacement: false,
  failOnPermissions: false,
  allowReplacement: false,
  allowPermissionChanges: false,
};

describe('classification of the recorded scenarios', () => {
  it('AMI change: the launch template rolls every runner, the parameter shows the resolved AMIs', () => {
    const report = reportFor('ami-change');
    expect(report.resources.map((r) => [r.logicalId, r.action, r.replacement, r.effects])).toEqual([
      ['LaunchTemplate', 'Modify', 'False', ['rolls-every-runner']],
      ['AutoScalingGroup', 'Modify', 'False', ['none']],
    ]);
    expect(report.parameters).toEqual([
      {
        key: 'ImageIdParameter',
        before:
          'ami-0a1b2c3d4e5f60718 (from /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64)',
        after:
          'ami-0f1e2d3c4b5a69788 (from /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64)',
        effects: ['rolls-every-runner'],
        usedBy: ['LaunchTemplate'],
      },
      {
        key: 'RunnerVersion',
        before: '17.10.1',
        after: '17.11.1',
        effects: ['rolls-every-runner'],
        usedBy: ['LaunchTemplate'],
      },
    ]);
    // The Dynamic twin of ImageId is merged into the Static row that names the cause.
    expect(report.resources[0]?.properties.map((p) => [p.path, p.causes, p.before, p.after])).toEqual([
      [
        'LaunchTemplateData/ImageId',
        ['parameter ImageIdParameter'],
        'ami-0a1b2c3d4e5f60718',
        'ami-0f1e2d3c4b5a69788',
      ],
      [
        'LaunchTemplateData/UserData',
        ['parameter RunnerVersion'],
        expect.stringMatching(/^IyEv/),
        expect.stringMatching(/^IyEv/),
      ],
      ['VersionDescription', ['parameter RunnerVersion'], expect.any(String), expect.any(String)],
    ]);
    expect(report.resources[1]?.properties).toEqual([
      {
        path: 'MixedInstancesPolicy/LaunchTemplate/LaunchTemplateSpecification/Version',
        changeType: 'Modify',
        requiresRecreation: 'Never',
        causes: ['LaunchTemplate.LatestVersionNumber'],
        before: '4',
        after: undefined,
      },
    ]);
    expect(report.counts).toEqual({ add: 0, modify: 2, remove: 0, replace: 0, conditional: 0 });
    expect(report.effects).toEqual(['rolls-every-runner']);
  });

  it('instance-type change: the group is modified in place, with no effect on running instances', () => {
    const report = reportFor('instance-type-change');
    expect(report.resources.map((r) => [r.logicalId, r.replacement, r.effects])).toEqual([
      ['AutoScalingGroup', 'False', ['none']],
    ]);
    expect(report.parameters.map((p) => [p.key, p.before, p.after, p.effects])).toEqual([
      ['InstanceTypes', 'm7i.large,m6i.large', 'c7i.large,c6i.large', ['none']],
    ]);
    expect(report.effects).toEqual(['none']);
  });

  it('token moved: permissions, token reference and a new launch template version', () => {
    const report = reportFor('iam-change');
    expect(report.resources.map((r) => [r.logicalId, r.effects])).toEqual([
      ['InstancePolicy', ['permissions', 'token-reference']],
      ['LaunchTemplate', ['rolls-every-runner', 'token-reference']],
      ['AutoScalingGroup', ['none']],
    ]);
    expect(report.effects).toEqual(['rolls-every-runner', 'permissions', 'token-reference']);
  });

  it('group renamed: replaces the Auto Scaling Group; Conditional is reported as maybe replaced', () => {
    const report = reportFor('asg-replacement');
    expect(report.resources.map((r) => [r.logicalId, r.replacement, r.policyAction, r.effects])).toEqual([
      ['AutoScalingGroup', 'True', 'ReplaceAndDelete', ['replaces-asg']],
      ['ScalingPolicy', 'Conditional', undefined, ['none']],
      ['InstancePolicy', 'False', undefined, ['permissions']],
    ]);
    expect(report.parameters).toEqual([]);
    expect(report.counts).toEqual({ add: 0, modify: 3, remove: 0, replace: 1, conditional: 1 });
    expect(summaryLine(report)).toBe(
      '0 to add, 3 to modify (1 replaced, 1 maybe replaced), 0 to remove; 0 parameters changed; replaces the Auto Scaling Group, changes permissions',
    );
  });

  it.each(Object.keys(SCENARIO_INPUTS))('renders %s as in its golden file', (name) => {
    expectGolden(`preview-${name}`, renderMarkdown(reportFor(name)));
  });
});

describe('classifyResourceChange rules', () => {
  const change = (Action: string, ResourceType: string, Replacement?: string) =>
    ({
      Action,
      ResourceType,
      LogicalResourceId: 'R',
      ...(Replacement ? { Replacement } : {}),
    }) as NonNullable<Change['ResourceChange']>;
  it.each([
    ['Modify', 'AWS::AutoScaling::AutoScalingGroup', 'True', 'UPDATE', ['replaces-asg']],
    ['Modify', 'AWS::AutoScaling::AutoScalingGroup', 'Conditional', 'UPDATE', ['replaces-asg']],
    ['Modify', 'AWS::AutoScaling::AutoScalingGroup', 'False', 'UPDATE', ['none']],
    ['Remove', 'AWS::AutoScaling::AutoScalingGroup', undefined, 'UPDATE', ['removes-asg']],
    ['Add', 'AWS::AutoScaling::AutoScalingGroup', undefined, 'CREATE', ['none']],
    ['Modify', 'AWS::EC2::LaunchTemplate', 'False', 'UPDATE', ['rolls-every-runner']],
    ['Add', 'AWS::EC2::LaunchTemplate', undefined, 'UPDATE', ['rolls-every-runner']],
    ['Add', 'AWS::EC2::LaunchTemplate', undefined, 'CREATE', ['none']],
    ['Remove', 'AWS::EC2::LaunchTemplate', undefined, 'UPDATE', ['none']],
    ['Add', 'AWS::IAM::Role', undefined, 'CREATE', ['permissions']],
    ['Remove', 'AWS::IAM::InstanceProfile', undefined, 'UPDATE', ['permissions']],
    ['Modify', 'AWS::S3::BucketPolicy', 'False', 'UPDATE', ['permissions']],
    ['Modify', 'AWS::EC2::SecurityGroup', 'False', 'UPDATE', ['network']],
    ['Modify', 'AWS::Logs::LogGroup', 'False', 'UPDATE', ['none']],
  ] as const)('%s %s (replacement %s, %s) -> %j', (action, type, replacement, changeSetType, effects) => {
    expect(classifyResourceChange(change(action, type, replacement), changeSetType).effects).toEqual(effects);
  });

  it('reports a Modify without Replacement as False and Add/Remove without one', () => {
    expect(classifyResourceChange(change('Modify', 'AWS::Logs::LogGroup'), 'UPDATE').replacement).toBe(
      'False',
    );
    expect(
      classifyResourceChange(change('Add', 'AWS::Logs::LogGroup'), 'UPDATE').replacement,
    ).toBeUndefined();
  });
});

describe('secrets in a preview', () => {
  const template = parseTemplate(
    'basic.yaml',
    readFileSync(join(ROOT, 'test/fixtures/templates/basic.yaml'), 'utf8'),
  );
  const secret = 'hunter2-never-print-me';
  const stackParameters: Parameter[] = [
    { ParameterKey: 'Environment', ParameterValue: 'test' },
    { ParameterKey: 'QueueSuffix', ParameterValue: 'one' },
    // Some endpoints echo NoEcho values back; AWS returns ****.
    { ParameterKey: 'ApiSecret', ParameterValue: 'old-secret-value' },
  ];
  const report = () => {
    const resolution = resolveParameters(
      template.parameters,
      new Map([
        ['ApiSecret', secret],
        ['QueueSuffix', 'glpat-abcdefghijklmnop1234'],
      ]),
      { StackName: 'fleet', Parameters: stackParameters } as Stack,
    );
    return buildPreviewReport({
      stackName: 'fleet',
      changeSetType: 'UPDATE',
      templatePath: 'basic.yaml',
      changeSetName: 'cs',
      changeSetKept: false,
      changes: [
        {
          Type: 'Resource',
          ResourceChange: {
            Action: 'Modify',
            LogicalResourceId: 'Setting',
            ResourceType: 'AWS::SSM::Parameter',
            Replacement: 'False',
            Details: [
              {
                Target: {
                  Attribute: 'Properties',
                  Name: 'Value',
                  Path: '/Properties/Value',
                  BeforeValue: 'old-secret-value',
                  AfterValue: secret,
                  RequiresRecreation: 'Never',
                },
                Evaluation: 'Static',
                ChangeSource: 'ParameterReference',
                CausingEntity: 'ApiSecret',
              },
              {
                Target: {
                  Attribute: 'Properties',
                  Name: 'Description',
                  Path: '/Properties/Description',
                  BeforeValue: 'x',
                  AfterValue: `prefix-${secret}`,
                  RequiresRecreation: 'Never',
                },
                Evaluation: 'Static',
                ChangeSource: 'DirectModification',
              },
            ],
          },
        },
      ],
      stackParameters,
      changeSetParameters: [{ ParameterKey: 'ApiSecret', ParameterValue: secret }],
      declared: template.parameters,
      resolved: resolution.parameters,
      parameterUsers: parameterUsers(parseCloudFormationDocument(template.body)),
    });
  };

  it('hides NoEcho values and token-like values in property and parameter rows', () => {
    const result = report();
    expect(result.resources[0]?.properties.map((p) => [p.path, p.before, p.after])).toEqual([
      ['Value', '****', '****'],
      ['Description', 'x', '****'],
    ]);
    expect(result.parameters).toEqual([
      {
        key: 'ApiSecret',
        before: '****',
        after: '**** (NoEcho: not compared)',
        effects: ['none'],
        usedBy: [],
      },
      { key: 'QueueSuffix', before: 'one', after: '****', effects: ['none'], usedBy: ['Queue'] },
    ]);
    const markdown = renderMarkdown(result);
    expect(markdown).not.toContain('hunter2');
    expect(markdown).not.toContain('old-secret-value');
    expect(markdown).not.toContain('glpat-');
  });
});

describe('gate', () => {
  it('refuses a replacement and a permission change unless allowed, one line each', () => {
    const report = reportFor('asg-replacement');
    expect(evaluateGate(report, NO_GATE)).toEqual({ refusals: [], allowed: [] });
    expect(evaluateGate(report, { ...NO_GATE, failOnReplacement: true, failOnPermissions: true })).toEqual({
      refusals: [
        'the change replaces the Auto Scaling Group (AutoScalingGroup replacement True); if that is intended, run again with --allow-replacement',
        'the change alters permissions (InstancePolicy); if that is intended, run again with --allow-permission-changes',
      ],
      allowed: [],
    });
    expect(
      evaluateGate(report, {
        failOnReplacement: true,
        failOnPermissions: true,
        allowReplacement: true,
        allowPermissionChanges: false,
      }),
    ).toEqual({
      refusals: [
        'the change alters permissions (InstancePolicy); if that is intended, run again with --allow-permission-changes',
      ],
      allowed: [
        'replacement of the Auto Scaling Group (AutoScalingGroup replacement True) allowed by --allow-replacement',
      ],
    });
  });

  it('lets an in-place change through both gates and names parameters that reach IAM', () => {
    expect(
      evaluateGate(reportFor('instance-type-change'), {
        ...NO_GATE,
        failOnReplacement: true,
        failOnPermissions: true,
      }),
    ).toEqual({ refusals: [], allowed: [] });
    expect(evaluateGate(reportFor('iam-change'), { ...NO_GATE, failOnPermissions: true }).refusals).toEqual([
      'the change alters permissions (InstancePolicy, parameter RunnerTokenParameterName); if that is intended, run again with --allow-permission-changes',
    ]);
  });

  it('writes the refusal into the Markdown', () => {
    const report = reportFor('asg-replacement');
    const markdown = renderMarkdown(report, evaluateGate(report, { ...NO_GATE, failOnReplacement: true }));
    expect(markdown).toContain(
      '**Preview gate refused:** the change replaces the Auto Scaling Group (AutoScalingGroup replacement True); if that is intended, run again with --allow-replacement.',
    );
  });
});

describe('Terraform report', () => {
  it.each([
    [
      { add: 2, modify: 3, remove: 1, replace: 1, conditional: 1 },
      { create: 3, update: 2, delete: 2 },
    ],
    [
      { add: 0, modify: 0, remove: 0, replace: 0, conditional: 0 },
      { create: 0, update: 0, delete: 0 },
    ],
    [
      { add: 0, modify: 2, remove: 0, replace: 0, conditional: 2 },
      { create: 0, update: 2, delete: 0 },
    ],
  ])('counts %j as %j', (counts, expected) => {
    expect(terraformReport(counts)).toEqual(expected);
    expect(renderTerraformReport(counts)).toBe(`${JSON.stringify(expected)}\n`);
  });

  it('keys are exactly create, update, delete with integers', () => {
    const parsed = JSON.parse(renderTerraformReport(reportFor('asg-replacement').counts)) as Record<
      string,
      unknown
    >;
    expect(Object.keys(parsed)).toEqual(['create', 'update', 'delete']);
    expect(parsed).toEqual({ create: 1, update: 2, delete: 1 });
  });
});

describe('Markdown escaping', () => {
  it('keeps pipes, HTML and newlines in values from breaking the table, and cuts long values', () => {
    const report = buildPreviewReport({
      stackName: 's',
      changeSetType: 'UPDATE',
      templatePath: 't.yaml',
      changeSetName: 'cs',
      changeSetKept: true,
      changes: [
        {
          Type: 'Resource',
          ResourceChange: {
            Action: 'Modify',
            LogicalResourceId: 'Q',
            ResourceType: 'AWS::SQS::Queue',
            Replacement: 'False',
            Details: [
              {
                Target: {
                  Attribute: 'Properties',
                  Name: 'A',
                  Path: '/Properties/A',
                  BeforeValue: 'a|b<i>\nc',
                  AfterValue: 'x'.repeat(310),
                },
                Evaluation: 'Static',
                ChangeSource: 'DirectModification',
              },
            ],
          },
        },
      ],
      stackParameters: [],
      changeSetParameters: [],
      declared: new Map(),
      resolved: [],
      parameterUsers: new Map(),
    });
    const markdown = renderMarkdown(report);
    expect(markdown).toContain(
      `| \`A\` | Modify | - | template | <code>a&#124;b&lt;i&gt;<br>c</code> | <code>${'x'.repeat(300)}… (10 more characters)</code> |`,
    );
    expect(markdown).toContain('Change set `cs` was kept for review; it is not executed by this job.');
  });
});

describe('docker-autoscaler workers in the preview', () => {
  it('labels a new worker launch template version as a worker change, not a roll of every runner', () => {
    const worker = classifyResourceChange(
      {
        Action: 'Modify',
        LogicalResourceId: 'WorkerLaunchTemplate',
        ResourceType: 'AWS::EC2::LaunchTemplate',
        Replacement: 'False',
      },
      'UPDATE',
    );
    expect(worker.effects).toEqual(['changes-workers']);
  });

  it('lists as users of a parameter only the resources that exist with the new values', () => {
    const users = (key: string, fleetMode: string) =>
      (fleetUsers.get(key) ?? [])
        .filter((user) => user.existsWith?.(new Map([['FleetMode', fleetMode]])) !== false)
        .map((user) => user.logicalId);
    expect(users('WorkerMaxInstances', 'docker-autoscaler')).toEqual(['LaunchTemplate', 'WorkerGroup']);
    expect(users('ImageIdParameter', 'autoscaling')).toEqual(['LaunchTemplate']);
    expect(users('ImageIdParameter', 'docker-autoscaler')).toEqual([
      'LaunchTemplate',
      'WorkerLaunchTemplate',
    ]);
  });
});
