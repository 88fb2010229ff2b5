/** SSM Parameter Store calls: the runner token as a SecureString. Nothing here prints values. */
import type { PutParameterCommandInput, PutParameterCommandOutput, SSMClient } from '@aws-sdk/client-ssm';
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
  const before = await readSecureString(client, name);
  if (before.matches(value)) return 'unchanged';
  const outcome = before.exists ? 'updated' : 'created';
  try {
    await putSecureStringOnce(client, {
      Name: name,
      Value: value,
      Overwrite: before.exists,
      ...(options.kmsKeyId ? { KeyId: options.kmsKeyId } : {}),
      ...(options.description ? { Description: options.description } : {}),
    });
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

/**
 * PutParameter of a SecureString that is not written twice. PutParameter has
 * no request token: when an attempt's answer is lost (a dropped connection, a
 * timeout), the SDK's retry sends it again, and with Overwrite that stores the
 * same value as one more version, which every instance then reloads; without
 * Overwrite the retry fails with ParameterAlreadyExists although the write
 * worked. So before each retry (inside the SDK's retry loop) the parameter is
 * read back, and when it already holds this value that version is the answer.
 */
export async function putSecureStringOnce(
  client: SSMClient,
  input: Omit<PutParameterCommandInput, 'Type' | 'Value'> & { Value: string },
): Promise<PutParameterCommandOutput> {
  const { PutParameterCommand } = await import('@aws-sdk/client-ssm');
  const command = new PutParameterCommand({ ...input, Type: 'SecureString' });
  let attempts = 0;
  command.middlewareStack.add(
    (next) => async (args) => {
      attempts += 1;
      if (attempts > 1) {
        const stored = await storedVersionOf(client, input.Name ?? '', input.Value);
        if (stored !== undefined) {
          const output: PutParameterCommandOutput = { $metadata: {}, Version: stored };
          return { output, response: { statusCode: 200, headers: {} } } as Awaited<ReturnType<typeof next>>;
        }
      }
      return next(args);
    },
    // Below the retry middleware (finalizeRequest, high priority): runs once per attempt.
    { step: 'finalizeRequest', priority: 'low', name: 'runnerFleetPutOnce' },
  );
  return client.send(command);
}

/** The version holding exactly this SecureString value; undefined when it holds another or none. */
async function storedVersionOf(client: SSMClient, name: string, value: string): Promise<number | undefined> {
  // Unreadable right now: the retry goes ahead as the SDK would send it.
  const current = await readSecureString(client, name).catch(() => undefined);
  return current?.matches(value) ? current.version : undefined;
}

async function readSecureString(
  client: SSMClient,
  name: string,
): Promise<{ exists: boolean; version: number | undefined; matches(value: string): boolean }> {
  const { GetParameterCommand } = await import('@aws-sdk/client-ssm');
  try {
    const current = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const parameter = current.Parameter;
    return {
      exists: parameter !== undefined,
      version: parameter?.Version,
      matches: (value) => parameter?.Type === 'SecureString' && parameter.Value === value,
    };
  } catch (error) {
    if (!isAwsError(error, 'ParameterNotFound')) throw error;
    return { exists: false, version: undefined, matches: () => false };
  }
}
