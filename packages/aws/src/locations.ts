/** A bucket and a key (or key prefix) in S3. */
export interface S3Location {
  bucket: string;
  key: string;
}

/**
 * Why an `s3://` location was refused:
 * - `INVALID_LOCATION`: not an `s3://bucket/key` URI, or the key has an empty, `.` or `..` segment.
 * - `LOCATION_NOT_ALLOWED`: a valid location outside every allowed bucket and prefix.
 */
export type S3LocationErrorCode = 'INVALID_LOCATION' | 'LOCATION_NOT_ALLOWED';

const LOCATION_ERROR = Symbol.for('@tq/aws/S3LocationError');

/** Thrown by `parseS3Location` and `S3AllowList.check`; `uri` is the refused location. */
export class S3LocationError extends Error {
  override readonly name = 'S3LocationError';
  readonly code: S3LocationErrorCode;
  readonly uri: string;

  constructor(code: S3LocationErrorCode, uri: string, message: string) {
    super(message);
    this.code = code;
    this.uri = uri;
    Object.defineProperty(this, LOCATION_ERROR, { value: true });
  }
}

/** True for an `S3LocationError`, even from another copy of this package. */
export function isS3LocationError(value: unknown): value is S3LocationError {
  return typeof value === 'object' && value !== null && LOCATION_ERROR in value;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The first segment of `key` that is empty, `.` or `..` (a trailing `/` of a prefix is allowed), if any. */
function badSegment(key: string, prefix: boolean): string | undefined {
  const segments = key.split('/');
  if (prefix && segments.at(-1) === '') segments.pop();
  return segments.find((segment) => segment === '' || segment === '.' || segment === '..');
}

/**
 * Splits and checks an `s3://bucket/key` URI. With `prefix`, the key may be empty (the bucket's
 * root) or end with `/`. Throws `S3LocationError` (`INVALID_LOCATION`) for anything else, or for
 * a key with an empty, `.` or `..` segment: S3 takes such keys literally, but every tool that maps
 * keys to paths (the CLI, `aws s3 sync`, a mounted bucket) resolves them.
 */
export function parseS3Location(uri: string, options: { prefix?: boolean } = {}): S3Location {
  const match = /^s3:\/\/([^/]+)\/(.*)$/s.exec(uri);
  const bucket = match?.[1];
  const key = match?.[2] ?? '';
  if (!bucket || !BUCKET.test(bucket)) {
    throw new S3LocationError('INVALID_LOCATION', uri, `${JSON.stringify(uri)} is not an s3://bucket/key URI`);
  }
  if (!options.prefix && key === '') {
    throw new S3LocationError('INVALID_LOCATION', uri, `${uri} names a bucket, not an object`);
  }
  if (/\p{Cs}/u.test(key)) {
    throw new S3LocationError(
      'INVALID_LOCATION',
      uri,
      `${JSON.stringify(uri)} has a lone surrogate: S3 keys are UTF-8`,
    );
  }
  const bad = badSegment(key, options.prefix === true);
  if (bad !== undefined) {
    throw new S3LocationError(
      'INVALID_LOCATION',
      uri,
      `${uri} has a key segment ${JSON.stringify(bad)}: keys may not have empty, "." or ".." segments`,
    );
  }
  return { bucket, key };
}

/** The buckets and key prefixes a worker may read and write; everything else is refused before any S3 call. */
export interface S3AllowList {
  /** The entries as given, normalised: `bucket` or `bucket/prefix/`. */
  readonly entries: readonly string[];
  /** True when `uri` is a valid location inside an entry. */
  allows(uri: string, options?: { prefix?: boolean }): boolean;
  /**
   * Returns the bucket and key of `uri` when it is allowed; throws `S3LocationError`
   * (`INVALID_LOCATION` or `LOCATION_NOT_ALLOWED`) naming `what` (e.g. `source`) otherwise.
   */
  check(uri: string, what: string, options?: { prefix?: boolean }): S3Location;
}

/**
 * Builds an allow-list from entries such as `tq-artifacts` (the whole bucket) or
 * `s3://shared-bucket/team-a/` / `shared-bucket/team-a/` (keys under that prefix only; a prefix
 * entry always ends at a `/`, so `team-a` never admits `team-ab/`). Throws `S3LocationError`
 * (`INVALID_LOCATION`) for a malformed entry, and a `TypeError` for an empty list.
 */
export function createS3AllowList(entries: readonly string[]): S3AllowList {
  const rules = entries.map((raw) => {
    const text = raw.trim().replace(/^s3:\/\//, '');
    const slash = text.indexOf('/');
    const bucket = slash === -1 ? text : text.slice(0, slash);
    let prefix = slash === -1 ? '' : text.slice(slash + 1);
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    parseS3Location(`s3://${bucket}/${prefix}`, { prefix: true });
    return { bucket, prefix };
  });
  if (rules.length === 0) throw new TypeError('an S3 allow-list needs at least one bucket');
  const normalised = rules.map(({ bucket, prefix }) => (prefix ? `${bucket}/${prefix}` : bucket));
  const inside = (location: S3Location) =>
    rules.some((rule) => rule.bucket === location.bucket && location.key.startsWith(rule.prefix));
  return {
    entries: normalised,
    allows(uri, options = {}) {
      try {
        return inside(parseS3Location(uri, options));
      } catch {
        return false;
      }
    },
    check(uri, what, options = {}) {
      const location = parseS3Location(uri, options);
      if (!inside(location)) {
        throw new S3LocationError(
          'LOCATION_NOT_ALLOWED',
          uri,
          `${what} ${uri} is outside the locations this worker may use (${normalised.join(', ')}); allow it with TQ_S3_ALLOW`,
        );
      }
      return location;
    },
  };
}

/**
 * Reads an allow-list from a comma-separated setting (`TQ_S3_ALLOW`), falling back to
 * `defaultBucket` when it is unset or empty. Throws `S3LocationError` for a malformed entry.
 */
export function readS3AllowList(value: string | undefined, defaultBucket: string): S3AllowList {
  const entries = (value ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return createS3AllowList(entries.length > 0 ? entries : [defaultBucket]);
}
