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
  const { GetParameterCommand, PutParameterCommand } = await import('@aws-sdk/client-ssm');
  let exists = false;
  try {
    const current = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    exists = current.Parameter !== undefined;
    if (current.Parameter?.Type === 'SecureString' && current.Parameter.Value === value) return 'unchanged';
  } catch (error) {
    if (!isAwsError(error, 'ParameterNotFound')) throw error;
  }
  await client.send(
    new PutParameterCommand({
      Name: name,
      Value: value,
      Type: 'SecureString',
      Overwrite: exists,
      ...(options.kmsKeyId ? { KeyId: options.kmsKeyId } : {}),
      ...(options.description ? { Description: options.description } : {}),
    }),
  );
  return exists ? 'updated' : 'created';
}
