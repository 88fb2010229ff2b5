/** S3 calls: emptying the fleet's cache bucket so the stack can delete it. */
import type { S3Client } from '@aws-sdk/client-s3';
import { OperationError } from '../errors.ts';
import { isAwsError } from './errors.ts';

/** DeleteObjects takes at most this many keys per call. */
const DELETE_BATCH = 1000;

/**
 * Deletes every object so CloudFormation can delete the bucket, and returns
 * how many. The fleet's cache bucket is not versioned (a cache needs no old
 * versions), so current objects are all there is. A bucket that is already
 * gone counts as empty.
 */
export async function emptyBucket(client: S3Client, bucket: string): Promise<number> {
  const { DeleteObjectsCommand, paginateListObjectsV2 } = await import('@aws-sdk/client-s3');
  let deleted = 0;
  try {
    for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket })) {
      const keys = (page.Contents ?? []).map((entry) => ({ Key: entry.Key ?? '' }));
      for (let start = 0; start < keys.length; start += DELETE_BATCH) {
        const batch = keys.slice(start, start + DELETE_BATCH);
        const response = await client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } }),
        );
        const errors = response.Errors ?? [];
        if (errors.length > 0) {
          throw new OperationError(
            `could not empty bucket ${bucket}: ${errors.length} object(s) not deleted`,
            [`first: ${errors[0]?.Key}: ${errors[0]?.Code} ${errors[0]?.Message ?? ''}`.trim()],
          );
        }
        deleted += batch.length;
      }
    }
  } catch (error) {
    if (isAwsError(error, 'NoSuchBucket')) return deleted;
    throw error;
  }
  return deleted;
}
