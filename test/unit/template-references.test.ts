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

/** Each reference as `kind name`, in the order the walk met them. */
function references(yaml: string): string[] {
  const found: string[] = [];
  visitReferences(parseCloudFormationDocument(yaml), (reference: TemplateReference) =>
    found.push(`${reference.kind} ${reference.name}`),
  );
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
      'ref Subnet',
      'get-att Group',
      'get-att Bucket',
      'ref AttributeName',
      'sub AWS::Partition',
      'sub Bucket',
      'condition UseSpot',
      'ref SpotPrice',
      'ref AWS::NoValue',
      'condition IsDocker',
    ]);
  });

  it("leaves out a Sub's own variables, and walks their values", () => {
    expect(
      references(`
Value: !Sub
  - '\${Name}-\${Stage}'
  - Name: !Ref FleetName
`),
    ).toEqual(['sub Stage', 'ref FleetName']);
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
