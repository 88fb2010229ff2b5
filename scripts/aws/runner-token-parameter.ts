/**
 * The fleet's runner identity in SSM: the glrt- token as a SecureString, and
 * beside it, as tags of the same parameter, the GitLab runner id it belongs to
 * and when it expires. Tags, not a second parameter, because they live and
 * die with the token (one name to configure, one ARN in the IAM policies,
 * deleted together) and are not versioned: a new token version keeps the id.
 * Nothing here prints or returns the value except readRunnerToken.
 */
import type { Stack } from '@aws-sdk/client-cloudformation';
import type { SSMClient, Tag } from '@aws-sdk/client-ssm';
import { stackParameterValue } from './cloudformation.ts';
import { isAwsError } from './errors.ts';
import { putSecureStringOnce } from './ssm.ts';

/** The fleet stack's parameter that names (never holds) the token's SSM parameter. */
export const TOKEN_PARAMETER_KEY = 'RunnerTokenParameterName';

/** The token parameter a fleet stack reads; undefined when the stack keeps its token elsewhere. */
export function tokenParameterOfStack(stack: Stack | undefined): string | undefined {
  return stackParameterValue(stack, TOKEN_PARAMETER_KEY) || undefined;
}

export const RUNNER_ID_TAG = 'runner-fleet:runner-id';
export const TOKEN_EXPIRES_TAG = 'runner-fleet:token-expires-at';
/** Tag value for a token without expiry (tag values cannot be empty in every tool). */
export const NEVER_EXPIRES = 'never';

export interface RecordedRunner {
  runnerId: number | undefined;
  /** ISO time, or null when GitLab set no expiry; undefined when not recorded. */
  tokenExpiresAt: string | null | undefined;
}

export interface RunnerTokenRecord extends RecordedRunner {
  /** The parameter version: every write adds one, and instances watch it. */
  version: number;
}

/** Version and tags of the token parameter, without decrypting it; undefined when it does not exist. */
export async function describeRunnerToken(
  client: SSMClient,
  name: string,
): Promise<RunnerTokenRecord | undefined> {
  const { GetParameterCommand } = await import('@aws-sdk/client-ssm');
  let version: number;
  try {
    const response = await client.send(new GetParameterCommand({ Name: name, WithDecryption: false }));
    version = response.Parameter?.Version ?? 0;
  } catch (error) {
    if (isAwsError(error, 'ParameterNotFound')) return undefined;
    throw error;
  }
  return { version, ...(await runnerTags(client, name)) };
}

/**
 * The runner id and expiry recorded as tags of the token parameter, read with
 * ListTagsForResource alone: no GetParameter, so a role that may never read
 * a token (the preview role) can still learn which runner is the fleet's.
 * Undefined when the parameter does not exist.
 */
export async function recordedRunner(client: SSMClient, name: string): Promise<RecordedRunner | undefined> {
  try {
    return await runnerTags(client, name);
  } catch (error) {
    if (isAwsError(error, 'InvalidResourceId')) return undefined;
    throw error;
  }
}

async function runnerTags(client: SSMClient, name: string): Promise<RecordedRunner> {
  const { ListTagsForResourceCommand } = await import('@aws-sdk/client-ssm');
  const tags = await client.send(
    new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }),
  );
  const tag = (key: string) => tags.TagList?.find((t) => t.Key === key)?.Value;
  const runnerIdText = tag(RUNNER_ID_TAG);
  const expires = tag(TOKEN_EXPIRES_TAG);
  return {
    runnerId: runnerIdText && /^\d+$/.test(runnerIdText) ? Number(runnerIdText) : undefined,
    tokenExpiresAt: expires === undefined ? undefined : expires === NEVER_EXPIRES ? null : expires,
  };
}

/** The token itself, for a GitLab call that needs it; callers never print it. */
export async function readRunnerToken(client: SSMClient, name: string): Promise<string | undefined> {
  const { GetParameterCommand } = await import('@aws-sdk/client-ssm');
  try {
    const response = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return response.Parameter?.Value || undefined;
  } catch (error) {
    if (isAwsError(error, 'ParameterNotFound')) return undefined;
    throw error;
  }
}

/**
 * Writes a new token version and records the runner id and expiry beside it.
 * PutParameter refuses Tags together with Overwrite, so the tags are set in a
 * second call; the token goes first, so a failure in between leaves the fleet
 * with the working token and stale tags, never the reverse.
 */
export async function writeRunnerToken(
  client: SSMClient,
  name: string,
  issued: { token: string; runnerId: number; tokenExpiresAt: string | null },
  options: { kmsKeyId?: string; description?: string } = {},
): Promise<{ version: number; created: boolean }> {
  const { AddTagsToResourceCommand, GetParameterCommand } = await import('@aws-sdk/client-ssm');
  let exists = true;
  try {
    await client.send(new GetParameterCommand({ Name: name, WithDecryption: false }));
  } catch (error) {
    if (!isAwsError(error, 'ParameterNotFound')) throw error;
    exists = false;
  }
  const put = await putSecureStringOnce(client, {
    Name: name,
    Value: issued.token,
    Overwrite: exists,
    ...(options.kmsKeyId ? { KeyId: options.kmsKeyId } : {}),
    ...(options.description ? { Description: options.description } : {}),
  });
  const tags: Tag[] = [
    { Key: RUNNER_ID_TAG, Value: String(issued.runnerId) },
    { Key: TOKEN_EXPIRES_TAG, Value: issued.tokenExpiresAt ?? NEVER_EXPIRES },
  ];
  await client.send(
    new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: name, Tags: tags }),
  );
  return { version: put.Version ?? 0, created: !exists };
}

/** Records the runner id and expiry on an existing token parameter, leaving its value and version alone. */
export async function tagRunnerToken(
  client: SSMClient,
  name: string,
  runner: { runnerId: number; tokenExpiresAt: string | null },
): Promise<void> {
  const { AddTagsToResourceCommand } = await import('@aws-sdk/client-ssm');
  await client.send(
    new AddTagsToResourceCommand({
      ResourceType: 'Parameter',
      ResourceId: name,
      Tags: [
        { Key: RUNNER_ID_TAG, Value: String(runner.runnerId) },
        { Key: TOKEN_EXPIRES_TAG, Value: runner.tokenExpiresAt ?? NEVER_EXPIRES },
      ],
    }),
  );
}
