import {
  AbortMultipartUploadCommand,
  type ChecksumAlgorithm,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

/** S3's smallest part (all but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface PartWriterOptions {
  bucket: string;
  key: string;
  contentType: string;
  /** Bytes per part, at least 5 MiB. Memory is two parts: one filling while the other uploads. */
  partSize: number;
  signal?: AbortSignal;
}

/**
 * Writes an object to S3 as it is produced, by multipart upload, holding two part buffers: text
 * is encoded straight into the part being filled while the previous one uploads. An object that
 * fits in one part goes up with one PutObject. Unlike a stream into lib-storage's `Upload`, no
 * part is ever concatenated or copied, and nothing is held beyond the two buffers.
 */
export class PartWriter {
  readonly #s3: S3Client;
  readonly #options: PartWriterOptions;
  /** Made on first use: an output that stays small (a rejects file) never takes two parts of memory. */
  readonly #buffers: [Buffer | undefined, Buffer | undefined] = [undefined, undefined];
  #current = 0;
  #filled = 0;
  #partNumber = 0;
  #uploadId: string | undefined;
  #checksumAlgorithm: ChecksumAlgorithm | undefined;
  #inFlight: Promise<void> | undefined;
  #failure: unknown;
  readonly #parts: CompletedPart[] = [];

  constructor(s3: S3Client, options: PartWriterOptions) {
    if (options.partSize < MIN_PART_SIZE) throw new RangeError(`partSize must be at least ${MIN_PART_SIZE} bytes`);
    this.#s3 = s3;
    this.#options = options;
  }

  /** Appends text; resolves once it is buffered (waiting, when both buffers are full, for an upload). */
  async write(text: string): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    let bytes = Buffer.from(text);
    while (bytes.length > 0) {
      const buffer = this.#buffer();
      const copied = bytes.copy(buffer, this.#filled);
      this.#filled += copied;
      bytes = bytes.subarray(copied);
      if (this.#filled === buffer.length) await this.#sendPart();
    }
  }

  /** Uploads what is left and completes the object. */
  async finish(): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    const buffer = this.#buffer().subarray(0, this.#filled);
    if (this.#partNumber === 0) {
      await this.#s3.send(
        new PutObjectCommand({
          Bucket: this.#options.bucket,
          Key: this.#options.key,
          Body: buffer,
          ContentType: this.#options.contentType,
        }),
        this.#abortOptions(),
      );
      return;
    }
    // S3 takes a last part of any size; an empty one only when it is the first.
    if (this.#filled > 0) await this.#sendPart();
    await this.#inFlight;
    if (this.#failure !== undefined) throw this.#failure;
    await this.#s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.#options.bucket,
        Key: this.#options.key,
        UploadId: this.#uploadId,
        MultipartUpload: { Parts: this.#parts },
      }),
      this.#abortOptions(),
    );
  }

  /** Gives up: stops a started multipart upload so S3 drops its parts. */
  async abort(): Promise<void> {
    await this.#inFlight?.catch(() => undefined);
    if (this.#uploadId === undefined) return;
    await this.#s3
      .send(
        new AbortMultipartUploadCommand({
          Bucket: this.#options.bucket,
          Key: this.#options.key,
          UploadId: this.#uploadId,
        }),
      )
      .catch(() => undefined);
  }

  /** Starts uploading the full buffer (after the previous upload ended) and switches to the other one. */
  async #sendPart(): Promise<void> {
    await this.#inFlight;
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#uploadId === undefined) await this.#create();
    this.#partNumber += 1;
    const partNumber = this.#partNumber;
    const body = this.#buffer().subarray(0, this.#filled);
    this.#inFlight = this.#s3
      .send(
        new UploadPartCommand({
          Bucket: this.#options.bucket,
          Key: this.#options.key,
          UploadId: this.#uploadId,
          PartNumber: partNumber,
          Body: body,
          ...(this.#checksumAlgorithm ? { ChecksumAlgorithm: this.#checksumAlgorithm } : {}),
        }),
        this.#abortOptions(),
      )
      .then((out) => {
        if (!out.ETag) throw new Error(`S3 returned no ETag for part ${partNumber} of ${this.#options.key}`);
        this.#parts.push({
          PartNumber: partNumber,
          ETag: out.ETag,
          ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}),
          ...(out.ChecksumCRC32C ? { ChecksumCRC32C: out.ChecksumCRC32C } : {}),
          ...(out.ChecksumSHA1 ? { ChecksumSHA1: out.ChecksumSHA1 } : {}),
          ...(out.ChecksumSHA256 ? { ChecksumSHA256: out.ChecksumSHA256 } : {}),
        });
      })
      .catch((error: unknown) => {
        this.#failure = error;
      });
    this.#current = 1 - this.#current;
    this.#filled = 0;
  }

  async #create(): Promise<void> {
    // Parts carry the checksum the client computes by default (CRC32), declared up front as S3 asks.
    const calculation = await this.#s3.config.requestChecksumCalculation?.();
    this.#checksumAlgorithm = calculation === 'WHEN_SUPPORTED' ? 'CRC32' : undefined;
    const out = await this.#s3.send(
      new CreateMultipartUploadCommand({
        Bucket: this.#options.bucket,
        Key: this.#options.key,
        ContentType: this.#options.contentType,
        ...(this.#checksumAlgorithm ? { ChecksumAlgorithm: this.#checksumAlgorithm } : {}),
      }),
      this.#abortOptions(),
    );
    if (!out.UploadId) throw new Error(`S3 returned no upload id for ${this.#options.key}`);
    this.#uploadId = out.UploadId;
  }

  #buffer(): Buffer {
    let buffer = this.#buffers[this.#current];
    if (buffer === undefined) {
      buffer = Buffer.allocUnsafe(this.#options.partSize);
      this.#buffers[this.#current] = buffer;
    }
    return buffer;
  }

  #abortOptions(): { abortSignal?: AbortSignal } {
    return this.#options.signal ? { abortSignal: this.#options.signal } : {};
  }
}
