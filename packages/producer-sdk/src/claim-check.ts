import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { claimCheckKey, encodeMessageBody, formatS3Uri } from '@tq/contracts';
import { fromAwsError, PayloadTooLargeError } from './errors.js';
import { byteSize, type Prepared } from './prepare.js';

/**
 * The claim check: an envelope larger than its route takes is stored in S3 (SHA-256 checked) and
 * the message carries a pointer to it. Without a bucket, an oversized task is refused before
 * anything is sent. The S3 client is made on first use.
 */
export class ClaimChecks {
  readonly #bucket: string | undefined;
  readonly #settings: S3ClientConfig;
  readonly #owned: { destroy(): void }[];
  #s3: S3Client | undefined;

  constructor(options: {
    bucket: string | undefined;
    s3: S3Client | undefined;
    settings: S3ClientConfig;
    /** Where a client made here is listed, to be destroyed with the producer. */
    owned: { destroy(): void }[];
  }) {
    this.#bucket = options.bucket;
    this.#s3 = options.s3;
    this.#settings = options.settings;
    this.#owned = options.owned;
  }

  /** Whether oversized tasks may go by claim check (a bucket is configured). */
  get enabled(): boolean {
    return this.#bucket !== undefined;
  }

  /** Stores an oversized envelope in S3 and swaps the body for a pointer to it; leaves others alone. */
  readonly apply = async (prepared: Prepared): Promise<void> => {
    if (prepared.bytes <= prepared.limit) return;
    const bucket = this.#bucket;
    if (!bucket) throw new PayloadTooLargeError(prepared.bytes, prepared.limit, prepared.route);
    const { envelope } = prepared;
    const key = claimCheckKey(envelope);
    const data = Buffer.from(prepared.body);
    const sha256 = createHash('sha256').update(data).digest('hex');
    await this.#client()
      .send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: data,
          ContentType: 'application/json',
          ChecksumSHA256: createHash('sha256').update(data).digest('base64'),
          Metadata: { 'tq-task': envelope.task, 'tq-id': envelope.id },
        }),
      )
      .catch((error: unknown) => {
        throw fromAwsError(error, `bucket ${bucket}`);
      });
    const uri = formatS3Uri(bucket, key);
    const { payload: _payload, ...meta } = envelope;
    prepared.body = encodeMessageBody({ ...meta, claimCheck: { uri, bytes: data.byteLength, sha256 } });
    prepared.bytes = byteSize(prepared.body, prepared.attributes);
    prepared.claimCheck = uri;
  };

  #client(): S3Client {
    if (!this.#s3) {
      this.#s3 = new S3Client({ ...this.#settings, forcePathStyle: this.#settings.forcePathStyle ?? false });
      this.#owned.push(this.#s3);
    }
    return this.#s3;
  }
}
