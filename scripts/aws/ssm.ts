/** SSM Parameter Store calls: the runner token as a SecureString. Nothing here prints values. */
import type { SSMClient } from '@aws-sdk/client-ssm';
import { isAwsError } from './errors.ts';

export type PutOutcome = 'created' | 'updated' | 'unchanged';

/**
 * Stores a secret as a SecureString, writing only when the value differs:
 * every write adds a parameter version, and an unchanged token must not look
 * like a change in the audit trail.
 */
export async function putSecureStringIfChanged(
  client: SSMClient,
  name: string,
  value: string,
  options: { kmsKeyId?: string; description?: string } = {},
): Promise<PutOutcome> {
  const { PutParameterCommand } = await import('@aws-sdk/client-ssm');
  const before = await readSecureString(client, name);
  if (before.matches(value)) return 'unchanged';
  const outcome = before.exists ? 'updated' : 'created';
  try {
    await client.send(
      new PutParameterCommand({
        Name: name,
        Value: value,
        Type: 'SecureString',
        Overwrite: before.exists,
        ...(options.kmsKeyId ? { KeyId: options.kmsKeyId } : {}),
        ...(options.description ? { Description: options.description } : {}),
      }),
    );
  } catch (error) {
    // PutParameter has no request token. When its answer was lost, the SDK's retry
    // finds the new parameter there (ParameterAlreadyExists) or the last try fails
    // although an earlier one was stored: read it back before calling it a failure.
    const after = await readSecureString(client, name).catch(() => undefined);
    if (after?.matches(value)) return outcome;
    throw error;
  }
  return outcome;
}

async function readSecureString(
  client: SSMClient,
  name: string,
): Promise<{ exists: boolean; matches(value: string): boolean }> {
  const { GetParameterCommand } = await import('@aws-sdk/client-ssm');
  try {
    const current = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const parameter = current.Parameter;
    return {
      exists: parameter !== undefined,
      matches: (value) => parameter?.Type === 'SecureString' && parameter.Value === value,
    };
  } catch (error) {
    if (!isAwsError(error, 'ParameterNotFound')) throw error;
    return { exists: false, matches: () => false };
  }
}
