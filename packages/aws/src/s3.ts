import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3Location } from './locations.js';

const TOO_LARGE = Symbol.for('@tq/aws/ObjectTooLargeError');

/** An S3 object larger than the reader allowed: thrown before more than the limit (and one chunk) was read. */
export class ObjectTooLargeError extends Error {
  override readonly name = 'ObjectTooLargeError';
  readonly code = 'OBJECT_TOO_LARGE' as const;
  readonly uri: string;
  /** The object's size as S3 declared it, or the bytes read when the reader stopped. */
  readonly bytes: number;
  readonly limit: number;

  constructor(uri: string, bytes: number, limit: number) {
    super(`${uri} is ${bytes} bytes or more, over the ${limit}-byte limit`);
    this.uri = uri;
    this.bytes = bytes;
    this.limit = limit;
    Object.defineProperty(this, TOO_LARGE, { value: true });
  }
}

/** True for an `ObjectTooLargeError`, even from another copy of this package. */
export function isObjectTooLargeError(value: unknown): value is ObjectTooLargeError {
  return typeof value === 'object' && value !== null && TOO_LARGE in value;
}

/** Passes bytes through until more than `limit` went by, then fails with `ObjectTooLargeError`. */
class ByteLimit extends Transform {
  #seen = 0;
  readonly #limit: number;
  readonly #fail: (bytes: number) => Error;

  constructor(limit: number, fail: (bytes: number) => Error) {
    super();
    this.#limit = limit;
    this.#fail = fail;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) callback(this.#fail(this.#seen));
    else callback(null, chunk);
  }
}

/** An opened S3 object: a stream that fails once it passes the byte limit, and the object's headers. */
export interface OpenedS3Object {
  body: Readable;
  /** The size S3 declared (already checked against the limit). */
  contentLength: number | undefined;
  contentType: string | undefined;
}

/** What `openS3Object` and `readS3Object` take. */
export interface S3ReadOptions {
  /** Most bytes to accept: a larger declared size fails at once, a longer body as soon as it passes it. */
  maxBytes: number;
  signal?: AbortSignal;
  /** The error to fail with over the limit, declared or streamed; default: the `ObjectTooLargeError` itself. */
  tooLarge?: (error: ObjectTooLargeError) => Error;
}

const uriOf = (location: S3Location) => `s3://${location.bucket}/${location.key}`;

/**
 * Opens an S3 object for streaming with a byte limit: the declared size is checked before any
 * byte of the body is read (so a 200 MiB object costs nothing to refuse), and the body stream
 * fails with `ObjectTooLargeError` as soon as more than `maxBytes` arrived (a server that
 * under-declares cannot push more). AWS errors are thrown as they are (see `classifyAwsError`).
 */
export async function openS3Object(
  s3: S3Client,
  location: S3Location,
  options: S3ReadOptions,
): Promise<OpenedS3Object> {
  const out = await s3.send(
    new GetObjectCommand({ Bucket: location.bucket, Key: location.key }),
    options.signal ? { abortSignal: options.signal } : {},
  );
  const source = out.Body as Readable | undefined;
  const tooLarge = (bytes: number) => {
    const error = new ObjectTooLargeError(uriOf(location), bytes, options.maxBytes);
    return options.tooLarge ? options.tooLarge(error) : error;
  };
  if (out.ContentLength !== undefined && out.ContentLength > options.maxBytes) {
    source?.destroy();
    throw tooLarge(out.ContentLength);
  }
  const limit = new ByteLimit(options.maxBytes, tooLarge);
  // Errors reach whoever reads `limit`; destroying it (a reader giving up) destroys the source.
  if (source) pipeline(source, limit, () => undefined);
  else limit.end();
  return { body: limit, contentLength: out.ContentLength, contentType: out.ContentType };
}

/** Reads a whole S3 object into memory, at most `maxBytes` of it (see `openS3Object`). */
export async function readS3Object(s3: S3Client, location: S3Location, options: S3ReadOptions): Promise<Buffer> {
  const { body } = await openS3Object(s3, location, options);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks, bytes);
}
