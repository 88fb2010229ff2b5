/**
 * One place that builds AWS clients, each once per region. Region,
 * credentials and endpoint come from the standard AWS environment
 * (AWS_REGION, AWS_ENDPOINT_URL, AWS_ROLE_ARN with a token file, profiles).
 * One addition for the components: RUNNER_FLEET_AWS_AUTH=oidc assumes
 * RUNNER_FLEET_AWS_ROLE_ARN with the job's GitLab ID token straight from
 * RUNNER_FLEET_AWS_ID_TOKEN, so no job writes the token to a file first.
 * Clients a command may not need are imported on first use: the EC2 client
 * alone adds half a second to start-up, which every CI job would pay.
 */

import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { httpUrlProblem } from '../cli-input/checks.ts';
import { collectInputProblems, firstLine, InputError } from '../errors.ts';
import {
  boundedRetryStrategy,
  DEFAULT_RETRY_POLICY,
  MAX_TIMEOUT_ATTEMPTS,
  type RetryPolicy,
} from './retry.ts';

// The SDK prints a nine-line warning on Node 20 when a client is built
// (emitWarningIfUnsupportedVersion in @aws-sdk/core reads this variable at that
// moment). The README supports Node 20 and the lock file pins the SDK, so the
// warning says nothing the user can act on; an explicit setting still wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface ClientOptions {
  region?: string;
}

/** Where retry notices go (throttling, timeouts); cli.ts points it at the log. */
let notice: (line: string) => void = () => undefined;

export function reportAwsRetriesTo(report: (line: string) => void): void {
  notice = report;
}

/**
 * The retry policy from the environment: AWS_MAX_ATTEMPTS (the SDK's own
 * variable) and RUNNER_FLEET_AWS_TIMEOUT_SECONDS for one attempt. Bad values
 * are input problems, reported with the others.
 */
export function retryPolicyFromEnv(env: NodeJS.ProcessEnv, problems: string[] = []): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY };
  const attempts = env.AWS_MAX_ATTEMPTS;
  if (attempts !== undefined && attempts !== '') {
    const value = Number(attempts);
    if (Number.isInteger(value) && value >= 1 && value <= 20) policy.maxAttempts = value;
    else problems.push(`invalid AWS_MAX_ATTEMPTS ${attempts}: expected a whole number from 1 to 20`);
  }
  const timeout = env.RUNNER_FLEET_AWS_TIMEOUT_SECONDS;
  if (timeout !== undefined && timeout !== '') {
    const value = Number(timeout);
    if (Number.isFinite(value) && value >= 0.1 && value <= 300) policy.attemptTimeoutMs = value * 1000;
    else
      problems.push(`invalid RUNNER_FLEET_AWS_TIMEOUT_SECONDS ${timeout}: expected seconds from 0.1 to 300`);
  }
  return policy;
}

/**
 * How the CLI gets AWS credentials (the components set it from their aws_auth
 * input): `environment` leaves them to the SDK's default chain; `oidc`
 * assumes a role with the job's GitLab ID token (web identity).
 */
export type AwsAuth =
  | { kind: 'environment' }
  | { kind: 'oidc'; roleArn: string; idToken: string; sessionName: string };

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[A-Za-z0-9+=,.@_/-]+$/;

/**
 * The credentials setting from RUNNER_FLEET_AWS_AUTH, RUNNER_FLEET_AWS_ROLE_ARN
 * and RUNNER_FLEET_AWS_ID_TOKEN. A half-given oidc setting is an input problem,
 * reported before any AWS call; the token itself is never quoted.
 */
export function awsAuthFromEnv(env: NodeJS.ProcessEnv, problems: string[] = []): AwsAuth {
  const kind = env.RUNNER_FLEET_AWS_AUTH?.trim() ?? '';
  if (kind === '' || kind === 'environment') return { kind: 'environment' };
  if (kind !== 'oidc') {
    problems.push(`invalid RUNNER_FLEET_AWS_AUTH ${kind}: expected oidc or environment`);
    return { kind: 'environment' };
  }
  const roleArn = env.RUNNER_FLEET_AWS_ROLE_ARN?.trim() ?? '';
  const idToken = env.RUNNER_FLEET_AWS_ID_TOKEN?.trim() ?? '';
  if (roleArn === '') {
    problems.push(
      'input aws_role_arn (RUNNER_FLEET_AWS_ROLE_ARN) is empty; set it, or set aws_auth: environment',
    );
  } else if (!ROLE_ARN.test(roleArn)) {
    problems.push(
      `invalid RUNNER_FLEET_AWS_ROLE_ARN ${roleArn}: expected an IAM role ARN such as arn:aws:iam::123456789012:role/runner-fleet-deployer`,
    );
  }
  if (idToken === '') {
    problems.push(
      'no GitLab ID token in RUNNER_FLEET_AWS_ID_TOKEN (aws_auth oidc): give the job id_tokens: RUNNER_FLEET_AWS_ID_TOKEN with the aud the role trusts',
    );
  }
  const sessionName = env.AWS_ROLE_SESSION_NAME || `gitlab-${env.CI_PROJECT_ID || 0}-${env.CI_JOB_ID || 0}`;
  return { kind: 'oidc', roleArn, idToken, sessionName };
}

type WebIdentityProvider = ReturnType<
  typeof import('@aws-sdk/credential-provider-web-identity').fromWebToken
>;
type Credentials = Awaited<ReturnType<WebIdentityProvider>>;

/** Assumed-role credentials this close to expiry are fetched again (the SDK's own margin). */
const CREDENTIALS_REFRESH_MS = 5 * 60_000;

let webIdentity: { key: string; provider: WebIdentityProvider } | undefined;

/**
 * One AssumeRoleWithWebIdentity for every client of the run, not one per
 * client: the calls chain, so concurrent first requests share the answer, and
 * a failed or expiring answer is asked for again.
 */
function webIdentityCredentials(auth: Extract<AwsAuth, { kind: 'oidc' }>): WebIdentityProvider {
  const key = `${auth.roleArn}\n${auth.sessionName}\n${auth.idToken}`;
  if (webIdentity?.key === key) return webIdentity.provider;
  const assume: WebIdentityProvider = async (properties) => {
    // Loaded here: only jobs with aws_auth oidc need it.
    const { fromWebToken } = await import('@aws-sdk/credential-provider-web-identity');
    return fromWebToken({
      roleArn: auth.roleArn,
      webIdentityToken: auth.idToken,
      roleSessionName: auth.sessionName,
    })(properties);
  };
  let pending: Promise<Credentials | undefined> = Promise.resolve(undefined);
  const provider: WebIdentityProvider = (properties) => {
    const next = pending
      .catch(() => undefined)
      .then((held) => (held && !expiresSoon(held) ? held : assume(properties)));
    pending = next;
    return next;
  };
  webIdentity = { key, provider };
  return provider;
}

function expiresSoon(credentials: Credentials): boolean {
  const expiration = credentials.expiration?.getTime();
  return expiration !== undefined && expiration - Date.now() < CREDENTIALS_REFRESH_MS;
}

function clientConfig(options: ClientOptions) {
  const policy = retryPolicyFromEnv(process.env);
  const auth = awsAuthFromEnv(process.env);
  return {
    ...(options.region ? { region: options.region } : {}),
    // A broken oidc setting gets no provider: checkAwsSetup reports it before any call.
    ...(auth.kind === 'oidc' && ROLE_ARN.test(auth.roleArn) && auth.idToken
      ? { credentials: webIdentityCredentials(auth) }
      : {}),
    maxAttempts: policy.maxAttempts,
    retryStrategy: boundedRetryStrategy(policy),
    requestHandler: {
      connectionTimeout: Math.min(5_000, policy.attemptTimeoutMs),
      // requestTimeout alone only logs a warning: throwOnRequestTimeout makes it abort the attempt.
      requestTimeout: policy.attemptTimeoutMs,
      throwOnRequestTimeout: true,
      // A response whose body stalls after the headers is cut too.
      socketTimeout: policy.attemptTimeoutMs,
    },
  };
}

/** The AWS action an error came from (DescribeStacks), set on every error a client throws. */
export function awsActionOf(error: unknown): string | undefined {
  return (error as { $action?: string } | undefined)?.$action;
}

type StackOfMiddleware = {
  middlewareStack: {
    add(middleware: unknown, options: Record<string, unknown>): void;
    addRelativeTo(middleware: unknown, options: Record<string, unknown>): void;
  };
};

interface MiddlewareContext {
  commandName?: string;
  clientName?: string;
}

/**
 * Names the action on every error (so "AccessDenied" can say which call was
 * refused) and reports each retried throttle or timeout as it happens, so a
 * slow deploy says why it is slow.
 */
function instrument<T>(client: T, policy: RetryPolicy): T {
  const stack = (client as unknown as StackOfMiddleware).middlewareStack;
  const action = (context: MiddlewareContext) => (context.commandName ?? 'call').replace(/Command$/, '');
  const service = (context: MiddlewareContext) => (context.clientName ?? 'AWS').replace(/Client$/, '');
  stack.add(
    (next: (args: unknown) => Promise<unknown>, context: MiddlewareContext) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (error) {
        if (error instanceof Error && !('$action' in error)) {
          Object.assign(error, { $action: action(context), $service: service(context) });
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'runnerFleetNameAction', priority: 'high' },
  );
  stack.addRelativeTo(
    (next: (args: unknown) => Promise<unknown>, context: MiddlewareContext) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (error) {
        const attempt = attemptOf(args);
        const name = `${service(context)} ${action(context)}`;
        if (isThrottle(error)) {
          if (attempt < policy.maxAttempts) {
            notice(
              `AWS is throttling ${name} (${(error as Error).name}): backing off and retrying (attempt ${attempt} of ${policy.maxAttempts})`,
            );
          }
        } else if (isNoAnswer(error) && attempt < Math.min(MAX_TIMEOUT_ATTEMPTS, policy.maxAttempts)) {
          notice(
            `${name} got no answer (${(error as { code?: string }).code ?? (error as Error).name}): retrying (attempt ${attempt} of ${MAX_TIMEOUT_ATTEMPTS})`,
          );
        }
        throw error;
      }
    },
    { relation: 'after', toMiddleware: 'retryMiddleware', name: 'runnerFleetRetryNotice' },
  );
  return client;
}

function attemptOf(args: unknown): number {
  const header = (args as { request?: { headers?: Record<string, string> } }).request?.headers?.[
    'amz-sdk-request'
  ];
  const match = /attempt=(\d+)/.exec(header ?? '');
  return match ? Number(match[1]) : 1;
}

export function isThrottle(error: unknown): boolean {
  const e = error as {
    name?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: { throttling?: boolean };
  };
  return (
    e?.$metadata?.httpStatusCode === 429 ||
    THROTTLING_CODES.has(e?.name ?? '') ||
    e?.$retryable?.throttling === true
  );
}

/** Error codes AWS uses for throttling (the SDK's list in @smithy/core retry). */
const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'SlowDown',
  'PriorRequestNotComplete',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'ProvisionedThroughputExceededException',
  'EC2ThrottledException',
  'TransactionInProgressException',
]);

/** No response at all: timed out, reset or refused. */
export function isNoAnswer(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.$metadata?.httpStatusCode !== undefined) return false;
  return (
    e?.name === 'TimeoutError' ||
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(e?.code ?? '')
  );
}

const cache = new Map<string, unknown>();

function memoised<T>(kind: string, options: ClientOptions, build: () => T): T {
  const key = `${kind}:${options.region ?? ''}`;
  if (!cache.has(key)) cache.set(key, instrument(build(), retryPolicyFromEnv(process.env)));
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
  problems.push(...endpointProblems(process.env));
  retryPolicyFromEnv(process.env, problems);
  const auth = awsAuthFromEnv(process.env, problems);
  if (problems.length > 0) throw new InputError(problems);
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
  } catch (error) {
    if (auth.kind === 'oidc') {
      // STS names what it refused (InvalidIdentityToken, AccessDenied); its message never quotes the token.
      const name = error instanceof Error ? error.name : 'Error';
      const reason = isNoAnswer(error)
        ? `STS did not answer (${(error as { code?: string }).code ?? name}): check the network and AWS_ENDPOINT_URL`
        : `${name}: ${firstLine(error)}; the role's trust policy must allow this project and ref (sub) and the aud of aws_audience`;
      problems.push(`could not assume ${auth.roleArn} with the GitLab ID token: ${reason}`);
    } else {
      problems.push(
        'no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE (GitLab OIDC id_tokens)',
      );
    }
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

/** AWS_ENDPOINT_URL and its per-service forms must be http(s) URLs; the SDK would fail later with "Invalid URL". */
export function endpointProblems(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!/^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$/.test(name) || !value) continue;
    const problem = httpUrlProblem(
      value,
      name,
      'an http(s) URL such as https://cloudformation.eu-west-1.amazonaws.com',
    );
    if (problem) problems.push(problem);
  }
  return problems;
}
