/**
 * One place that builds AWS clients. Region, credentials and endpoint come from
 * the standard AWS environment (AWS_REGION, AWS_ENDPOINT_URL, web identity for
 * GitLab OIDC, profiles), so the CLI adds no configuration of its own.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { InputError } from '../errors.ts';

export interface AwsClients {
  cloudFormation: CloudFormationClient;
  autoScaling: AutoScalingClient;
  ec2: EC2Client;
  ssm: SSMClient;
}

export interface ClientOptions {
  region?: string;
}

const cache = new Map<string, AwsClients>();

export function awsClients(options: ClientOptions = {}): AwsClients {
  const key = options.region ?? '';
  const cached = cache.get(key);
  if (cached) return cached;
  const config = {
    ...(options.region ? { region: options.region } : {}),
    // Adaptive retry adds client-side rate limiting on top of backoff: several
    // pipelines polling DescribeStackEvents on one account hit throttling, and
    // a deploy must ride that out rather than fail.
    retryMode: 'adaptive',
    maxAttempts: 8,
  };
  const clients: AwsClients = {
    cloudFormation: new CloudFormationClient(config),
    autoScaling: new AutoScalingClient(config),
    ec2: new EC2Client(config),
    ssm: new SSMClient(config),
  };
  cache.set(key, clients);
  return clients;
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
    // handled below
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
