import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { uniqueName } from './queues.js';

/** An object read back from a test bucket. */
export interface TestObject {
  readonly data: Buffer;
  readonly text: string;
  readonly contentType: string | undefined;
  /** The object's user metadata (`x-amz-meta-*`), keys in lower case. */
  readonly metadata: Record<string, string>;
}

/** A bucket of its own for one test suite, with the reads and writes tests make. */
export interface TestBucket {
  readonly name: string;
  readonly s3: S3Client;
  /** `s3://<bucket>/<key>`. */
  uri(key: string): string;
  /** Writes an object; returns its `s3://` URI. */
  put(key: string, body: string | Uint8Array, contentType?: string): Promise<string>;
  /** Reads an object by key or by its `s3://` URI in this bucket. */
  get(keyOrUri: string): Promise<TestObject>;
  /** How many objects have keys starting with `prefix`. */
  count(prefix?: string): Promise<number>;
}

/**
 * Creates a bucket with a unique name (or `name`) on the endpoint `clientConfig` (or the client)
 * points at.
 *
 * ```ts
 * const bucket = await createTestBucket(endpoint.clientConfig);
 * const source = await bucket.put('in/a.csv', 'a,b\n1,2\n');
 * const { text } = await bucket.get('out/a/cleaned.csv');
 * ```
 */
export async function createTestBucket(
  clientConfig: S3ClientConfig | S3Client,
  options: { name?: string } = {},
): Promise<TestBucket> {
  const s3 = clientConfig instanceof S3Client ? clientConfig : new S3Client({ ...clientConfig, forcePathStyle: true });
  const name = options.name ?? uniqueName('bucket').toLowerCase();
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return testBucket(s3, name);
}

/** The helpers of `createTestBucket` for a bucket that exists already (one a topology made). */
export function testBucket(s3: S3Client, name: string): TestBucket {
  const prefix = `s3://${name}/`;
  const keyOf = (keyOrUri: string) => (keyOrUri.startsWith(prefix) ? keyOrUri.slice(prefix.length) : keyOrUri);
  return {
    name,
    s3,
    uri: (key) => `${prefix}${key}`,
    async put(key, body, contentType) {
      await s3.send(
        new PutObjectCommand({
          Bucket: name,
          Key: key,
          Body: body,
          ...(contentType ? { ContentType: contentType } : {}),
        }),
      );
      return `${prefix}${key}`;
    },
    async get(keyOrUri) {
      const object = await s3.send(new GetObjectCommand({ Bucket: name, Key: keyOf(keyOrUri) }));
      const data = Buffer.from((await object.Body?.transformToByteArray()) ?? new Uint8Array());
      return { data, text: data.toString('utf8'), contentType: object.ContentType, metadata: object.Metadata ?? {} };
    },
    async count(keyPrefix = '') {
      let total = 0;
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: name, Prefix: keyPrefix, ContinuationToken: token }),
        );
        total += page.KeyCount ?? 0;
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return total;
    },
  };
}
