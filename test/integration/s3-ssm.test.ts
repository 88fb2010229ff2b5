/**
 * The two calls that write or delete data outside CloudFormation, against
 * moto over HTTP: emptyBucket (destroy empties the fleet's cache bucket,
 * which the template creates unversioned) and the runner token's SecureString
 * update, each branch of it. The lost-answer branches go through the fault
 * proxy, which drops the connection after moto has stored the value or before
 * the request reaches it.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  GetParameterCommand,
  GetParameterHistoryCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emptyBucket } from '../../scripts/aws/s3.ts';
import { putSecureStringIfChanged } from '../../scripts/aws/ssm.ts';
import { type FaultProxy, startFaultProxy } from '../faults/fault-proxy.ts';
import { type Emulator, startEmulator } from '../support/emulator.ts';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const region = 'us-east-1';

let emulator: Emulator;
let proxy: FaultProxy;

beforeAll(async () => {
  emulator = await startEmulator('moto');
  proxy = await startFaultProxy(emulator.endpoint);
});
afterAll(async () => {
  await proxy?.stop();
  await emulator?.stop();
});
beforeEach(async () => {
  await emulator.reset();
  proxy.setRules([]);
  proxy.calls.length = 0;
});

describe('emptyBucket', () => {
  const s3 = () => new S3Client({ endpoint: emulator.endpoint, region, credentials, forcePathStyle: true });

  async function bucketWith(name: string, count: number): Promise<void> {
    const client = s3();
    await client.send(new CreateBucketCommand({ Bucket: name }));
    const keys = Array.from({ length: count }, (_, index) => `cache/project-${index % 7}/key-${index}`);
    // A few at a time: enough to be quick, few enough not to swamp the emulator.
    for (let start = 0; start < keys.length; start += 25) {
      await Promise.all(
        keys
          .slice(start, start + 25)
          .map((Key) => client.send(new PutObjectCommand({ Bucket: name, Key, Body: `body of ${Key}` }))),
      );
    }
  }

  it('deletes every object, over more than one listing page and delete batch, so the bucket can go', async () => {
    // ListObjectsV2 pages and DeleteObjects batches hold 1000 keys: 1003 needs two of each.
    await bucketWith('fleet-cache', 1003);
    expect(await emptyBucket(s3(), 'fleet-cache')).toBe(1003);
    const listing = await s3().send(new ListObjectsV2Command({ Bucket: 'fleet-cache' }));
    expect(listing.KeyCount ?? 0).toBe(0);
    await expect(s3().send(new DeleteBucketCommand({ Bucket: 'fleet-cache' }))).resolves.toBeDefined();
  }, 120_000);

  it('leaves other buckets alone', async () => {
    await bucketWith('fleet-cache', 3);
    await bucketWith('other-bucket', 2);
    expect(await emptyBucket(s3(), 'fleet-cache')).toBe(3);
    const other = await s3().send(new ListObjectsV2Command({ Bucket: 'other-bucket' }));
    expect(other.KeyCount).toBe(2);
  });

  it('counts an empty bucket, and one already gone, as emptied with nothing deleted', async () => {
    await bucketWith('fleet-cache', 0);
    expect(await emptyBucket(s3(), 'fleet-cache')).toBe(0);
    expect(await emptyBucket(s3(), 'no-such-bucket')).toBe(0);
  });
});

describe('putSecureStringIfChanged (the runner token parameter)', () => {
  const NAME = '/runner-fleet/fleet/runner-token';
  const TOKEN = 'glrt-first-token-value-0123456789';
  const NEXT_TOKEN = 'glrt-second-token-value-987654321';
  // Through the proxy, so a test can count the calls and break one; one attempt, so a fault is not retried away.
  const ssm = (maxAttempts = 3) =>
    new SSMClient({ endpoint: proxy.endpoint, region, credentials, maxAttempts });
  const direct = () => new SSMClient({ endpoint: emulator.endpoint, region, credentials });

  async function stored(): Promise<{ type?: string; value?: string; versions: number }> {
    const current = await direct().send(new GetParameterCommand({ Name: NAME, WithDecryption: true }));
    const history = await direct().send(new GetParameterHistoryCommand({ Name: NAME }));
    return {
      ...(current.Parameter?.Type ? { type: current.Parameter.Type } : {}),
      ...(current.Parameter?.Value ? { value: current.Parameter.Value } : {}),
      versions: history.Parameters?.length ?? 0,
    };
  }
  const puts = () => proxy.calls.filter((call) => call.action === 'PutParameter').length;

  it('creates the parameter as a SecureString when there is none', async () => {
    expect(await putSecureStringIfChanged(ssm(), NAME, TOKEN)).toBe('created');
    expect(await stored()).toEqual({ type: 'SecureString', value: TOKEN, versions: 1 });
  });

  it('writes nothing when the stored SecureString already holds the value (no new version)', async () => {
    await putSecureStringIfChanged(ssm(), NAME, TOKEN);
    proxy.calls.length = 0;
    expect(await putSecureStringIfChanged(ssm(), NAME, TOKEN)).toBe('unchanged');
    expect(puts()).toBe(0);
    expect(await stored()).toEqual({ type: 'SecureString', value: TOKEN, versions: 1 });
  });

  it('overwrites a different value as a new version', async () => {
    await putSecureStringIfChanged(ssm(), NAME, TOKEN);
    expect(await putSecureStringIfChanged(ssm(), NAME, NEXT_TOKEN)).toBe('updated');
    expect(await stored()).toEqual({ type: 'SecureString', value: NEXT_TOKEN, versions: 2 });
  });

  it('rewrites a plain String parameter holding the same value as a SecureString', async () => {
    await direct().send(new PutParameterCommand({ Name: NAME, Value: TOKEN, Type: 'String' }));
    expect(await putSecureStringIfChanged(ssm(), NAME, TOKEN)).toBe('updated');
    expect(await stored()).toMatchObject({ type: 'SecureString', value: TOKEN });
  });

  it('reports the write when its answer was lost after the value was stored', async () => {
    proxy.setRules([{ action: 'PutParameter', fault: 'drop-after', count: 1 }]);
    expect(await putSecureStringIfChanged(ssm(1), NAME, TOKEN)).toBe('created');
    expect(puts()).toBe(1);
    expect(await stored()).toEqual({ type: 'SecureString', value: TOKEN, versions: 1 });
  });

  it('does not send the retry of a write whose answer was lost: it reads the value back instead', async () => {
    proxy.setRules([{ action: 'PutParameter', fault: 'drop-after', count: 1 }]);
    expect(await putSecureStringIfChanged(ssm(3), NAME, TOKEN)).toBe('created');
    expect(puts()).toBe(1);
    expect(await stored()).toEqual({ type: 'SecureString', value: TOKEN, versions: 1 });
    // An overwrite too: its retry would store the same value as a third version.
    proxy.setRules([{ action: 'PutParameter', fault: 'drop-after', count: 1 }]);
    proxy.calls.length = 0;
    expect(await putSecureStringIfChanged(ssm(3), NAME, NEXT_TOKEN)).toBe('updated');
    expect(puts()).toBe(1);
    expect(await stored()).toEqual({ type: 'SecureString', value: NEXT_TOKEN, versions: 2 });
  });

  it('retries a write whose answer was lost before it was stored', async () => {
    await putSecureStringIfChanged(ssm(), NAME, TOKEN);
    proxy.setRules([{ action: 'PutParameter', fault: 'drop-before', count: 1 }]);
    proxy.calls.length = 0;
    expect(await putSecureStringIfChanged(ssm(3), NAME, NEXT_TOKEN)).toBe('updated');
    expect(puts()).toBe(2);
    expect(await stored()).toEqual({ type: 'SecureString', value: NEXT_TOKEN, versions: 2 });
  });

  it('fails with the write error when the value did not reach the parameter', async () => {
    await putSecureStringIfChanged(ssm(), NAME, TOKEN);
    proxy.setRules([{ action: 'PutParameter', fault: 'drop-before' }]);
    await expect(putSecureStringIfChanged(ssm(1), NAME, NEXT_TOKEN)).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    expect(await stored()).toEqual({ type: 'SecureString', value: TOKEN, versions: 1 });
  });

  it('writes nothing when the current value cannot be read (refused is not absent)', async () => {
    proxy.setRules([{ action: 'GetParameter', fault: 'access-denied' }]);
    await expect(putSecureStringIfChanged(ssm(), NAME, TOKEN)).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    expect(puts()).toBe(0);
  });
});
