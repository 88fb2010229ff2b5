/**
 * One place that builds AWS clients, each once per region. Region,
 * credentials and endpoint come from the standard AWS environment
 * (AWS_REGION, AWS_ENDPOINT_URL, web identity for GitLab OIDC, profiles), so
 * the CLI adds no configuration of its own. Clients a command may not need
 * are imported on first use: the EC2 client alone adds half a second to
 * start-up, which every CI job would pay.
 */

import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { collectInputProblems, InputError } from '../errors.ts';

export interface ClientOptions {
  region?: string;
}

function clientConfig(options: ClientOptions) {
  return {
    ...(options.region ? { region: options.region } : {}),
    // Adaptive retry adds client-side rate limiting on top of backoff: several
    // pipelines polling DescribeStackEvents on one account hit throttling, and
    // a deploy must ride that out rather than fail.
    retryMode: 'adaptive',
    maxAttempts: 8,
    // A hung connection must fail and be retried, not block a CI job until it times out.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
  };
}

const cache = new Map<string, unknown>();

function memoised<T>(kind: string, options: ClientOptions, build: () => T): T {
  const key = `${kind}:${options.region ?? ''}`;
  if (!cache.has(key)) cache.set(key, build());
  return cache.get(key) as T;
}

export function cloudFormationClient(options: ClientOptions = {}): CloudFormationClient {
  return memoised('cloudformation', options, () => new CloudFormationClient(clientConfig(options)));
}

export async function autoScalingClient(options: ClientOptions = {}): Promise<AutoScalingClient> {
  const { AutoScalingClient } = await import('@aws-sdk/client-auto-scaling');
  return memoised('autoscaling', options, () => new AutoScalingClient(clientConfig(options)));
}

export async function ssmClient(options: ClientOptions = {}): Promise<SSMClient> {
  const { SSMClient } = await import('@aws-sdk/client-ssm');
  return memoised('ssm', options, () => new SSMClient(clientConfig(options)));
}

export async function s3Client(options: ClientOptions = {}): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return memoised('s3', options, () => new S3Client(clientConfig(options)));
}

export async function ec2Client(options: ClientOptions = {}): Promise<EC2Client> {
  const { EC2Client } = await import('@aws-sdk/client-ec2');
  return memoised('ec2', options, () => new EC2Client(clientConfig(options)));
}

/**
 * Resolves region and credentials before any work starts, so a missing
 * setting is a one-line input error (exit 2) instead of a failure halfway.
 */
export async function checkAwsSetup(client: CloudFormationClient): Promise<{ region: string }> {
  const problems: string[] = [];
  let region = '';
  try {
    region = await client.config.region();
  } catch {
    // reported below
  }
  if (!region) {
    problems.push('no AWS region: pass --region or set AWS_REGION');
  }
  try {
    const credentials = await client.config.credentials();
    if (!credentials.accessKeyId) throw new Error('empty access key');
  } catch {
    problems.push(
      'no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE (GitLab OIDC id_tokens)',
    );
  }
  if (problems.length > 0) throw new InputError(problems);
  return { region };
}

/** The same check for commands that collect every input problem before they stop. */
export async function awsSetupProblems(client: CloudFormationClient): Promise<string[]> {
  const problems: string[] = [];
  await collectInputProblems(checkAwsSetup(client), problems);
  return problems;
}
