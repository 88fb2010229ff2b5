/**
 * The AWS calls a fleet instance makes with its role: every `aws` command of
 * the instance scripts and the UserData bootstrap (found by scanning them, so
 * a new one must be listed here), and the agents that use the role on their
 * own (gitlab-runner's S3 cache with AuthenticationType iam, the CloudWatch
 * agent, the Session Manager agent). A docker-autoscaler manager also runs
 * fleeting-plugin-aws, which scales the stack's worker group and pushes SSH
 * keys to its workers (managerCalls).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../support/emulator.ts';
import { arn, type IamCall, REGION } from './iam-calls.ts';
import { EXAMPLE } from './policies.ts';

const stack = EXAMPLE.fleetStack;
const ownGroup = arn.group(`${stack}-runners`);
/** The docker-autoscaler worker group of the stack (AutoScalingGroupName ${AWS::StackName}-workers). */
export const WORKER_GROUP = `${stack}-workers`;
const workerGroup = arn.group(WORKER_GROUP);
const viaSsm = `ssm.${REGION}.amazonaws.com`;
const cacheObject = arn.object(EXAMPLE.cacheBucket, 'runner/project/1/default-protected/cache.zip');

/** "<service> <command>" of the AWS CLI (or the PowerShell cmdlet) -> the IAM calls it makes. */
export function scriptCommandCalls(
  tokenKind: 'ssm' | 'secretsmanager',
): Record<string, Omit<IamCall, 'source'>[]> {
  return {
    'autoscaling complete-lifecycle-action': [
      { action: 'autoscaling:CompleteLifecycleAction', resource: ownGroup, context: {} },
    ],
    'autoscaling record-lifecycle-action-heartbeat': [
      { action: 'autoscaling:RecordLifecycleActionHeartbeat', resource: ownGroup, context: {} },
    ],
    // docker-autoscaler manager only (runner_configs/linux/lib/fleeting.sh): AZRebalance off on the workers.
    'autoscaling suspend-processes': [
      { action: 'autoscaling:SuspendProcesses', resource: workerGroup, context: {} },
    ],
    'autoscaling set-instance-protection': [
      { action: 'autoscaling:SetInstanceProtection', resource: ownGroup, context: {} },
    ],
    'cloudwatch put-metric-data': [
      {
        action: 'cloudwatch:PutMetricData',
        resource: '*',
        context: { 'cloudwatch:namespace': 'RunnerFleet' },
      },
    ],
    'ssm get-parameter':
      tokenKind === 'ssm'
        ? [
            { action: 'ssm:GetParameter', resource: arn.parameter(EXAMPLE.tokenParameter), context: {} },
            {
              action: 'kms:Decrypt',
              resource: arn.kmsKey('0a1b2c3d-1111-4000-8000-000000000000'),
              context: {
                'kms:ViaService': viaSsm,
                'kms:EncryptionContext:PARAMETER_ARN': arn.parameter(EXAMPLE.tokenParameter),
              },
            },
          ]
        : [],
    'secretsmanager get-secret-value':
      tokenKind === 'secretsmanager'
        ? [
            { action: 'secretsmanager:GetSecretValue', resource: arn.secret(EXAMPLE_SECRET), context: {} },
            {
              action: 'kms:Decrypt',
              resource: arn.kmsKey('0a1b2c3d-1111-4000-8000-000000000000'),
              context: {
                'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
                'kms:EncryptionContext:SecretARN': arn.secret(EXAMPLE_SECRET),
              },
            },
          ]
        : [],
    // UserData: the s3:// config bundle.
    's3 cp': [
      {
        action: 's3:GetObject',
        resource: arn.object(EXAMPLE.bundleBucket, 'v1/runner-configs-linux.tar.gz'),
        context: {},
      },
    ],
    'Read-S3Object': [
      {
        action: 's3:GetObject',
        resource: arn.object(EXAMPLE.bundleBucket, 'v1/runner-configs-linux.tar.gz'),
        context: {},
      },
    ],
    'Complete-ASLifecycleAction': [
      { action: 'autoscaling:CompleteLifecycleAction', resource: ownGroup, context: {} },
    ],
  };
}

/** Commands only the docker-autoscaler manager runs (docker-autoscaler.sh), not a classic fleet's instance. */
export const MANAGER_ONLY_COMMANDS = new Set(['autoscaling suspend-processes']);

/**
 * What fleeting-plugin-aws calls with the manager's role, per GitLab's
 * docs for the plugin (docs/executors/docker_autoscaler.md, the plugin's
 * README: the recommended IAM policy): it lists the group and its
 * instances, sets the desired capacity, terminates a worker it is done
 * with, and pushes a one-time SSH key through EC2 Instance Connect before it
 * connects as the OS user of connector_config. ec2:GetPasswordData is for
 * Windows workers, which this fleet does not run.
 */
export function managerCalls(osUser: string): IamCall[] {
  const worker = arn.ec2('instance', 'i-0a0b0c0d0e0f00001');
  const source = 'fleeting-plugin-aws (docker-autoscaler manager)';
  return [
    { action: 'autoscaling:DescribeAutoScalingGroups', resource: '*', context: {}, source },
    { action: 'ec2:DescribeInstances', resource: '*', context: {}, source },
    { action: 'autoscaling:SetDesiredCapacity', resource: workerGroup, context: {}, source },
    { action: 'autoscaling:TerminateInstanceInAutoScalingGroup', resource: workerGroup, context: {}, source },
    {
      action: 'ec2-instance-connect:SendSSHPublicKey',
      resource: worker,
      context: { 'ec2:ResourceTag/aws:autoscaling:groupName': WORKER_GROUP, 'ec2:osuser': osUser },
      source,
    },
  ];
}

export const EXAMPLE_SECRET = '/runner-fleet/prod/token-secret';

/** Agents that call AWS with the instance role, not through a script line. */
export function agentCalls(): IamCall[] {
  const stream = (name: string) => arn.logStream(EXAMPLE.logGroup, `i-0123456789abcdef0/${name}`);
  return [
    // gitlab-runner presigns cache GETs and PUTs with the role (AuthenticationType = "iam").
    { action: 's3:GetObject', resource: cacheObject, context: {}, source: 'gitlab-runner cache (download)' },
    { action: 's3:PutObject', resource: cacheObject, context: {}, source: 'gitlab-runner cache (upload)' },
    {
      action: 's3:ListBucket',
      resource: arn.bucket(EXAMPLE.cacheBucket),
      context: {},
      source: 'gitlab-runner cache (exists check)',
    },
    {
      action: 's3:GetBucketLocation',
      resource: arn.bucket(EXAMPLE.cacheBucket),
      context: {},
      source: 'gitlab-runner cache (region)',
    },
    {
      action: 'logs:CreateLogStream',
      resource: stream('bootstrap'),
      context: {},
      source: 'amazon-cloudwatch-agent',
    },
    {
      action: 'logs:PutLogEvents',
      resource: stream('gitlab-runner'),
      context: {},
      source: 'amazon-cloudwatch-agent',
    },
    {
      action: 'logs:DescribeLogStreams',
      resource: `${arn.logGroup(EXAMPLE.logGroup)}:*`,
      context: {},
      source: 'amazon-cloudwatch-agent',
    },
    { action: 'ssm:UpdateInstanceInformation', resource: '*', context: {}, source: 'amazon-ssm-agent' },
    ...['CreateControlChannel', 'CreateDataChannel', 'OpenControlChannel', 'OpenDataChannel'].map((name) => ({
      action: `ssmmessages:${name}`,
      resource: '*',
      context: {},
      source: 'amazon-ssm-agent (Session Manager)',
    })),
  ];
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Every AWS CLI command (and AWS cmdlet) the instance scripts and the UserData run, with where. */
export function scannedScriptCommands(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (command: string, where: string) => found.set(command, [...(found.get(command) ?? []), where]);
  const sources = [
    ...files(join(ROOT, 'runner_configs')).filter((f) => /\.(sh|ps1)$/.test(f)),
    join(ROOT, 'cfn/runner-fleet.yaml'),
  ];
  for (const file of sources) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      const where = `${relative(ROOT, file)}:${index + 1}`;
      if (/^\s*#/.test(line)) return;
      // aws [--region X] <service> <command>, the bash wrapper _asg <command>, and Invoke-Aws @('svc', 'cmd' ...).
      for (const m of line.matchAll(
        /(?:^|[\s("&])aws(?:\s+--region\s+\S+)?\s+([a-z0-9-]+)\s+([a-z][a-z0-9-]+)/g,
      )) {
        add(`${m[1]} ${m[2]}`, where);
      }
      for (const m of line.matchAll(/\b_asg\s+([a-z][a-z-]+)/g)) add(`autoscaling ${m[1]}`, where);
      for (const m of line.matchAll(/Invoke-Aws\s+\(?@\('([a-z0-9-]+)',\s*'([a-z-]+)'/g))
        add(`${m[1]} ${m[2]}`, where);
      for (const m of line.matchAll(
        /\b((?:Read|Write|Get|Set|Complete|Send|Remove)-(?:S3|AS|SSM|SEC|CW|CWL|KMS)[A-Za-z]+)\b/g,
      )) {
        add(m[1] ?? '', where);
      }
    });
  }
  return found;
}
