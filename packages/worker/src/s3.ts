import type { S3Client } from '@aws-sdk/client-s3';
import {
  classifyAwsError,
  createS3AllowList,
  isObjectTooLargeError,
  isS3LocationError,
  type OpenedS3Object,
  openS3Object,
  readS3AllowList,
  type S3AllowList,
  type S3Location,
} from '@tq/aws';
import { ConfigError, readEnvironment } from '@tq/contracts';
import { NonRetryableError } from './errors.js';

/**
 * The allow-list a worker uses: the one given (a list or entries), else `TQ_S3_ALLOW`
 * (comma-separated `bucket` or `bucket/prefix/` entries), else the artifacts bucket
 * (`TQ_BUCKET`, default `<prefix>-artifacts`, with `prefix` when given, else `TQ_PREFIX`).
 * Throws `ConfigError` naming `TQ_S3_ALLOW` when it is malformed.
 */
export function resolveS3Allow(
  value?: S3AllowList | readonly string[],
  options: { env?: Readonly<Record<string, string | undefined>>; prefix?: string | undefined } = {},
): S3AllowList {
  if (value !== undefined && !Array.isArray(value)) return value as S3AllowList;
  if (value !== undefined) return createS3AllowList(value as readonly string[]);
  const env = options.env ?? process.env;
  try {
    const bucket = readEnvironment(options.prefix ? { ...env, TQ_PREFIX: options.prefix } : env).bucket;
    return readS3AllowList(env.TQ_S3_ALLOW, bucket);
  } catch (error) {
    if (!isS3LocationError(error)) throw error;
    throw new ConfigError(
      `TQ_S3_ALLOW is "${env.TQ_S3_ALLOW}": ${error.message} (use comma-separated bucket or bucket/prefix/ entries)`,
    );
  }
}

/**
 * Checks an `s3://` location a task names against the allow-list before any S3 call. Throws
 * `NonRetryableError` with the allow-list's code (`LOCATION_NOT_ALLOWED`, `INVALID_LOCATION`)
 * naming `label` (e.g. `destination`). `prefix` for output prefixes (`s3://bucket/dir/`).
 */
export function checkS3Location(
  allow: S3AllowList,
  uri: string,
  label: string,
  options: { prefix?: boolean } = {},
): S3Location {
  try {
    return allow.check(uri, label, options);
  } catch (error) {
    if (!isS3LocationError(error)) throw error;
    throw new NonRetryableError(error.message, { code: error.code, cause: error });
  }
}

/** What `openS3Input` takes. */
export interface S3InputOptions {
  allow: S3AllowList;
  /** What the object is to the task, for messages: `source`, `attachment`. */
  label: string;
  /** Code stem of the dead-letter reasons: `SOURCE` gives `SOURCE_MISSING`, `SOURCE_FORBIDDEN`, ... */
  code: string;
  /** Most bytes to read; a larger object is dead-lettered as `<code>_TOO_LARGE` (or `tooLargeCode`). */
  maxBytes: number;
  tooLargeCode?: string;
  signal?: AbortSignal;
}

/**
 * Turns a failed S3 read into what the worker should do with the task, by the one classification
 * of AWS errors: not found → `<code>_MISSING`, forbidden → `<code>_FORBIDDEN`, a request S3
 * refused → `<code>_UNREADABLE`, over the byte limit → `<code>_TOO_LARGE`, all dead-lettered
 * (`NonRetryableError`); anything else (throttling, outages, credentials) is returned as it is,
 * so the task is retried.
 */
export function s3ReadFailure(
  error: unknown,
  uri: string,
  options: Pick<S3InputOptions, 'label' | 'code' | 'tooLargeCode'>,
): unknown {
  const reason = (error as Error | undefined)?.message ?? String(error);
  const poison = (code: string, message: string) => new NonRetryableError(message, { code, cause: error });
  if (isObjectTooLargeError(error)) {
    return poison(
      options.tooLargeCode ?? `${options.code}_TOO_LARGE`,
      `${options.label} ${uri} is over the ${error.limit}-byte limit (${error.bytes} bytes or more)`,
    );
  }
  switch (classifyAwsError(error)) {
    case 'not-found':
      return poison(`${options.code}_MISSING`, `${options.label} ${uri} cannot be read: it does not exist (${reason})`);
    case 'forbidden':
      return poison(`${options.code}_FORBIDDEN`, `${options.label} ${uri} cannot be read: access denied (${reason})`);
    case 'invalid':
      return poison(`${options.code}_UNREADABLE`, `${options.label} ${uri} cannot be read: ${reason}`);
    default:
      return error;
  }
}

/**
 * Opens a task's S3 input within its bounds: checks the location against the allow-list, then
 * streams the object with a byte limit (see `@tq/aws` `openS3Object`). Every refusal is a
 * `NonRetryableError` with its own code (see `s3ReadFailure`); the stream itself fails with the
 * same error once it passes `maxBytes`.
 */
export async function openS3Input(s3: S3Client, uri: string, options: S3InputOptions): Promise<OpenedS3Object> {
  const location = checkS3Location(options.allow, uri, options.label);
  try {
    return await openS3Object(s3, location, {
      maxBytes: options.maxBytes,
      // Past the limit, whether declared or while streaming, the task is dead-lettered alike.
      tooLarge: (error) => s3ReadFailure(error, uri, options) as Error,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    throw s3ReadFailure(error, uri, options);
  }
}

/**
 * Turns a failed S3 write into what the worker should do: a destination that does not exist, may
 * not be written, or refuses the request is `DESTINATION_UNWRITABLE` (dead-lettered); anything else
 * is returned as it is, so the task is retried.
 */
export function s3WriteFailure(error: unknown, uri: string): unknown {
  const kind = classifyAwsError(error);
  if (kind !== 'not-found' && kind !== 'forbidden' && kind !== 'invalid') return error;
  const reason = (error as Error | undefined)?.message ?? String(error);
  return new NonRetryableError(`cannot write ${uri}: ${(error as Error | undefined)?.name ?? kind} (${reason})`, {
    code: 'DESTINATION_UNWRITABLE',
    cause: error,
  });
}
