/**
 * The one template walker (scripts/config/template-references.ts): what it
 * reports as a reference, on documents in the long form cfn-yaml.ts produces.
 */
import { describe, expect, it } from 'vitest';
import { parseCloudFormationDocument } from '../../scripts/config/cfn-yaml.ts';
import {
  parameterUsers,
  type TemplateReference,
  visitReferences,
} from '../../scripts/config/template-references.ts';

function references(yaml: string): TemplateReference[] {
  const found: TemplateReference[] = [];
  visitReferences(parseCloudFormationDocument(yaml), (reference) => found.push(reference));
  return found;
}

describe('visitReferences', () => {
  it('reports Ref, GetAtt, Sub placeholders and conditions, each with its kind', () => {
    expect(
      references(`
A: !Ref Subnet
B: !GetAtt Group.Arn
C: [Role, Arn]
D: !GetAtt [Bucket, !Ref AttributeName]
E: !Sub 'arn:\${AWS::Partition}:s3:::\${Bucket.Arn}/\${!Literal}'
F: !If [UseSpot, !Ref SpotPrice, !Ref AWS::NoValue]
G: {Condition: IsDocker}
`),
    ).toEqual([
      { kind: 'ref', name: 'Subnet' },
      { kind: 'get-att', name: 'Group' },
      { kind: 'get-att', name: 'Bucket' },
      { kind: 'ref', name: 'AttributeName' },
      { kind: 'sub', name: 'AWS::Partition' },
      { kind: 'sub', name: 'Bucket' },
      { kind: 'condition', name: 'UseSpot' },
      { kind: 'ref', name: 'SpotPrice' },
      { kind: 'ref', name: 'AWS::NoValue' },
      { kind: 'condition', name: 'IsDocker' },
    ]);
  });

  it("leaves out a Sub's own variables, and walks their values", () => {
    expect(
      references(`
Value: !Sub
  - '\${Name}-\${Stage}'
  - Name: !Ref FleetName
`),
    ).toEqual([
      { kind: 'sub', name: 'Stage' },
      { kind: 'ref', name: 'FleetName' },
    ]);
  });
});

describe('parameterUsers', () => {
  const document = parseCloudFormationDocument(`
Parameters:
  Mode: {Type: String}
  Name: {Type: String}
  Size: {Type: String}
Conditions:
  IsDocker: !Equals [!Ref Mode, docker]
  IsBig: !And [{Condition: IsDocker}, !Equals [!Ref Size, big]]
Resources:
  Workers:
    Type: AWS::EC2::LaunchTemplate
    Condition: IsDocker
    Properties:
      LaunchTemplateName: !Sub
        - '\${Name}-workers'
        - Name: fixed
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MaxSize: !If [IsBig, '10', '2']
      Tags: [{Key: Name, Value: !Sub '\${Name}'}]
`);

  it('finds users through Ref, Sub and conditions, and says when a conditional resource exists', () => {
    const users = parameterUsers(document);
    expect(
      Object.fromEntries([...users].map(([name, refs]) => [name, refs.map((r) => r.logicalId)])),
    ).toEqual({
      Mode: ['Workers', 'Group'],
      Size: ['Group'],
      Name: ['Group'],
    });
    const workers = users.get('Mode')?.[0];
    expect(workers?.existsWith?.(new Map([['Mode', 'docker']]))).toBe(true);
    expect(workers?.existsWith?.(new Map([['Mode', 'shell']]))).toBe(false);
    expect(workers?.existsWith?.(new Map())).toBeUndefined();
    expect(users.get('Mode')?.[1]?.existsWith).toBeUndefined();
  });
});
