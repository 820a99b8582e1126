import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { parseS3Uri } from '@tq/contracts';
import { NonRetryableError } from './errors.js';

/** Errors of an S3 read that retrying cannot fix: the object or its bucket is missing, or not ours to read. */
export function isMissingObjectError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name ?? '';
  return name === 'NoSuchKey' || name === 'NoSuchBucket' || name === 'AccessDenied';
}

/**
 * Opens an `s3://` object for a handler. A missing or forbidden object throws `NonRetryableError`
 * with `code` and the message `<label> <uri> cannot be read: <reason>`, so the task is
 * dead-lettered; any other failure is thrown as it is, so the task is retried.
 */
export async function getS3Object(
  s3: S3Client,
  uri: string,
  options: { signal?: AbortSignal; code: string; label: string },
): Promise<GetObjectCommandOutput> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    return await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key }),
      options.signal ? { abortSignal: options.signal } : {},
    );
  } catch (error) {
    if (isMissingObjectError(error)) {
      throw new NonRetryableError(`${options.label} ${uri} cannot be read: ${(error as Error).name}`, {
        code: options.code,
        cause: error,
      });
    }
    throw error;
  }
}
