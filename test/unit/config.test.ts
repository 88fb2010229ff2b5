/** Parsing of templates, parameter files, KEY=VALUE flags and parameter resolution. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCloudFormationDocument } from '../../scripts/config/cfn-yaml.ts';
import { parameterFileValues, parseKeyValuePairs } from '../../scripts/config/parameters.ts';
import {
  checkGivenParameters,
  displayValue,
  resolveParameters,
} from '../../scripts/config/stack-parameters.ts';
import { parseTemplate } from '../../scripts/config/template.ts';
import { unresolvedReferences } from '../../scripts/config/template-references.ts';
import { InputError } from '../../scripts/errors.ts';

const TEMPLATE = `
Transform: []
Parameters:
  Size: {Type: Number, Default: 2, AllowedValues: [1, 2, 3]}
  Token: {Type: String, NoEcho: true}
  Name: {Type: String}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties: {RoleName: !Sub '\${AWS::StackName}-role', AssumeRolePolicyDocument: {}}
`;

describe('CloudFormation YAML', () => {
  it('turns short-form intrinsics into their long form', () => {
    expect(
      parseCloudFormationDocument(
        'A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub [x, {a: !Ref Y}]\nD: !If [C, !Base64 {"Fn::Sub": s}, !Ref "AWS::NoValue"]\n',
      ),
    ).toEqual({
      A: { Ref: 'X' },
      B: { 'Fn::GetAtt': ['R', 'Arn'] },
      C: { 'Fn::Sub': ['x', { a: { Ref: 'Y' } }] },
      D: { 'Fn::If': ['C', { 'Fn::Base64': { 'Fn::Sub': 's' } }, { Ref: 'AWS::NoValue' }] },
    });
  });

  it('knows the Rules functions too', () => {
    expect(
      parseCloudFormationDocument(
        'Rules:\n  R:\n    RuleCondition: !Contains [[a, b], !Ref P]\n    Assertions:\n      - Assert: !EachMemberIn [!ValueOfAll [AWS::EC2::Subnet::Id, VpcId], !RefAll AWS::EC2::VPC::Id]\n',
      ),
    ).toEqual({
      Rules: {
        R: {
          RuleCondition: { 'Fn::Contains': [['a', 'b'], { Ref: 'P' }] },
          Assertions: [
            {
              Assert: {
                'Fn::EachMemberIn': [
                  { 'Fn::ValueOfAll': ['AWS::EC2::Subnet::Id', 'VpcId'] },
                  { 'Fn::RefAll': 'AWS::EC2::VPC::Id' },
                ],
              },
            },
          ],
        },
      },
    });
  });

  it('reads JSON templates as JSON', () => {
    expect(parseCloudFormationDocument('{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}')).toEqual({
      Resources: { Q: { Type: 'AWS::SQS::Queue' } },
    });
  });
});

describe('templates that expand through aliases', () => {
  it('refuses a 500-byte alias bomb at once instead of expanding it', () => {
    const bomb = readFileSync(
      join(import.meta.dirname, '..', 'fixtures', 'templates', 'alias-bomb.yaml'),
      'utf8',
    );
    expect(bomb.length).toBeLessThan(600);
    const started = performance.now();
    expect(() => parseTemplate('bomb.yaml', bomb)).toThrow(
      /^template bomb.yaml refused: YAML aliases expand it to more than 1,000,000 values/,
    );
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('still reads ordinary aliases', () => {
    const document = parseCloudFormationDocument('Tags: &tags [a, b]\nMore: *tags\n') as Record<
      string,
      unknown
    >;
    expect(document.More).toEqual(['a', 'b']);
  });
});

describe('outputs that echo a NoEcho parameter', () => {
  it('are found through Ref and Sub, and only those', () => {
    const template = parseTemplate(
      'noecho.yaml',
      readFileSync(join(import.meta.dirname, '..', 'fixtures', 'templates', 'noecho-output.yaml'), 'utf8'),
    );
    expect([...template.noEchoOutputs].sort()).toEqual(['ConnectionString', 'PasswordEcho']);
  });
});

describe('parseTemplate', () => {
  it('reads parameters, NoEcho and the capabilities the template needs', () => {
    const template = parseTemplate('t.yaml', TEMPLATE);
    expect(template.parameters.get('Size')).toEqual({
      name: 'Size',
      type: 'Number',
      defaultValue: '2',
      noEcho: false,
      allowedValues: ['1', '2', '3'],
    });
    expect(template.parameters.get('Token')?.noEcho).toBe(true);
    expect(template.capabilities).toEqual([
      'CAPABILITY_AUTO_EXPAND',
      'CAPABILITY_IAM',
      'CAPABILITY_NAMED_IAM',
    ]);
  });

  it.each([
    ['Resources: [unclosed', /not valid YAML\/JSON/],
    ['Parameters: {}\n', /has no Resources section/],
    [
      `Resources:\n  Q: {Type: AWS::SQS::Queue}\nOutputs:\n  X: {Value: ${'a'.repeat(52_000)}}\n`,
      /even as compact JSON, over CloudFormation's 51200-byte limit/,
    ],
  ])('rejects a bad template: %#', (body, message) => {
    expect(() => parseTemplate('bad.yaml', body)).toThrow(message);
  });

  it('sends a template over the inline limit as compact JSON when that fits', () => {
    const comment = `# ${'why '.repeat(40)}\n`;
    const body = `Resources:\n${comment.repeat(400)}  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !Sub '\${AWS::StackName}-q'}\n`;
    expect(body.length).toBeGreaterThan(51_200);
    const template = parseTemplate('big.yaml', body);
    expect(template.compacted).toBe(true);
    expect(JSON.parse(template.body)).toEqual({
      Resources: {
        // A CloudFormation Sub string, not a JavaScript template.
        // biome-ignore lint/suspicious/noTemplateCurlyInString: literal ${} is the point
        Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Sub': '${AWS::StackName}-q' } } },
      },
    });
    expect(parseTemplate('small.yaml', 'Resources:\n  Q: {Type: AWS::SQS::Queue}\n').compacted).toBe(false);
  });

  it('lists every reference to nothing at once', () => {
    const document = parseCloudFormationDocument(`
Parameters: {P: {Type: String}}
Resources:
  A:
    Type: AWS::SQS::Queue
    DependsOn: [Missing1]
    Properties:
      QueueName: !Sub '\${P}-\${AWS::Region}-\${B.Arn}-\${Missing2}-\${!Literal}'
      Other: !Sub ['\${Local}', {Local: !Ref Missing3}]
  B: {Type: AWS::SQS::Queue, Properties: {X: !GetAtt Missing4.Arn}}
Outputs:
  O: {Value: !Ref Missing5}
`) as Record<string, unknown>;
    expect(unresolvedReferences(document).map((ref) => ref.target)).toEqual([
      'Missing1',
      'Missing2',
      'Missing3',
      'Missing4',
      'Missing5',
    ]);
  });
});

describe('parameter inputs', () => {
  it('parses KEY=VALUE with = and empty values, and rejects malformed ones without echoing values', () => {
    const parsed = parseKeyValuePairs('--parameter', [
      'A=1',
      'B=x=y',
      'C=',
      'secretvalue',
      '=v',
      'bad key=zzz',
    ]);
    expect([...parsed.values]).toEqual([
      ['A', '1'],
      ['B', 'x=y'],
      ['C', ''],
    ]);
    expect(parsed.problems).toHaveLength(3);
    expect(parsed.problems.join(' ')).not.toMatch(/secretvalue|zzz/);
  });

  it('accepts the map form and the AWS CLI list form of parameter files', () => {
    expect([...parameterFileValues('p.yaml', { A: 1, B: ['x', 'y'], C: true }).values]).toEqual([
      ['A', '1'],
      ['B', 'x,y'],
      ['C', 'true'],
    ]);
    expect([...parameterFileValues('p.json', [{ ParameterKey: 'A', ParameterValue: 'v' }]).values]).toEqual([
      ['A', 'v'],
    ]);
    expect(parameterFileValues('p.json', [{ Key: 'A' }]).problems[0]).toMatch(/entry 1 needs ParameterKey/);
    expect(parameterFileValues('p.yaml', 'text').problems[0]).toMatch(/must be a map/);
  });

  it('checks given values against the template, and never echoes a NoEcho value', () => {
    const template = parseTemplate('t.yaml', TEMPLATE);
    expect(
      checkGivenParameters(
        template.parameters,
        new Map([
          ['Size', '9'],
          ['Nope', 'x'],
          ['Token', 'glrt-abc'],
        ]),
      ),
    ).toEqual([
      'parameter Size=9 is not allowed: use one of 1, 2, 3',
      'unknown parameter Nope: the template declares Name, Size, Token',
    ]);
  });

  it('resolves given, previous and default values, and names all missing ones', () => {
    const template = parseTemplate('t.yaml', TEMPLATE);
    const onCreate = resolveParameters(
      template.parameters,
      new Map([['Token', 'glrt-secret-value-123']]),
      undefined,
    );
    expect(onCreate.problems).toEqual([
      'missing value for parameter Name: pass --parameter KEY=VALUE or add it to --parameters FILE',
    ]);
    const onUpdate = resolveParameters(template.parameters, new Map([['Token', 'glrt-secret-value-123']]), {
      StackName: 's',
      CreationTime: new Date(),
      StackStatus: 'UPDATE_COMPLETE',
      Parameters: [{ ParameterKey: 'Name', ParameterValue: 'n' }],
    });
    expect(onUpdate.problems).toEqual([]);
    expect(onUpdate.parameters.map((p) => [p.key, p.source, displayValue(p)])).toEqual([
      ['Name', 'previous', '(previous value)'],
      ['Size', 'default', '2'],
      ['Token', 'given', '****'],
    ]);
  });

  it('masks a value whose parameter name says it is secret, but not a reference to one', () => {
    const template = parseTemplate(
      't.yaml',
      'Parameters:\n  GitLabApiToken: {Type: String}\n  RunnerTokenParameterName: {Type: String}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n',
    );
    const resolved = resolveParameters(
      template.parameters,
      new Map([
        ['GitLabApiToken', 'plain-looking-value'],
        ['RunnerTokenParameterName', '/fleet/token'],
      ]),
      undefined,
    );
    expect(resolved.parameters.map((p) => displayValue(p))).toEqual(['****', '/fleet/token']);
  });

  it('raises InputError with every problem listed', () => {
    const error = new InputError(['a', 'b']);
    expect(error.problems).toEqual(['a', 'b']);
    expect(error.exitCode).toBe(2);
  });
});
