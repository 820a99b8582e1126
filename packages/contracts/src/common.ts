import { type Static, Type } from '@sinclair/typebox';
import { EMAIL_PATTERN } from './formats.js';

const BUCKET = '[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]';
/** No control characters (CR/LF among them): keys and names end up in headers and logs. */
const NO_CONTROL = '[^\\u0000-\\u001f\\u007f]';

/**
 * One key segment: no `/`, no control character, and not `.` or `..` (S3 takes those literally,
 * but every tool that maps keys to paths resolves them, so they would escape a prefix).
 */
const SEGMENT = '(?!\\.\\.?(?:/|$))[^/\\u0000-\\u001f\\u007f]+';

/** `s3://bucket/key`: where a file lives. Tasks carry references, never the bytes. */
export const S3Uri = Type.String({
  pattern: `^s3://${BUCKET}/(?=${NO_CONTROL}{1,1024}$)${SEGMENT}(?:/${SEGMENT})*$`,
  description: 's3://bucket/key of an object; no empty, "." or ".." key segments',
  errorMessage: 'must be an s3://bucket/key URI without empty, "." or ".." segments',
  examples: ['s3://tq-artifacts/uploads/photo.jpg'],
});
export type S3Uri = Static<typeof S3Uri>;

/** `s3://bucket/` or `s3://bucket/some/prefix/`: where outputs go. */
export const S3Prefix = Type.String({
  pattern: `^s3://${BUCKET}/(?:(?=${NO_CONTROL}{1,901}$)${SEGMENT}(?:/${SEGMENT})*/)?$`,
  description: 's3://bucket/prefix/ under which outputs are written (ends with /); no empty, "." or ".." segments',
  errorMessage: 'must be an s3://bucket/ or s3://bucket/prefix/ URI ending in /, without empty, "." or ".." segments',
  examples: ['s3://tq-artifacts/thumbnails/'],
});
export type S3Prefix = Static<typeof S3Prefix>;

/** A bare email address. The pattern forbids whitespace, so CR/LF cannot reach a header. */
export const EmailAddress = Type.String({
  format: 'email',
  pattern: EMAIL_PATTERN,
  maxLength: 254,
  errorMessage: 'must be an email address',
  examples: ['john@example.com'],
});
export type EmailAddress = Static<typeof EmailAddress>;

/** An address with a display name, e.g. `{ "name": "John Doe", "address": "john@example.com" }`. */
export const NamedAddress = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 256,
      pattern: `^${NO_CONTROL}+$`,
      errorMessage: 'must be one line of 1 to 256 characters',
    }),
    address: EmailAddress,
  },
  { additionalProperties: false },
);

/** A mailbox: a bare address or an address with a display name. */
export const Mailbox = Type.Union([EmailAddress, NamedAddress], {
  errorMessage: 'must be an email address or { "name", "address" }',
});
export type Mailbox = Static<typeof Mailbox>;

/** A single line of text of at most `max` characters: no CR, LF or other control characters. */
export function SingleLine(options: { minLength?: number; maxLength: number; description?: string }) {
  return Type.String({
    minLength: 1,
    ...options,
    pattern: `^${NO_CONTROL}*$`,
    errorMessage: `must be one line of 1 to ${options.maxLength} characters without control characters`,
  });
}

/** A column name in a CSV or report: printable, 1-128 characters. Also used as a record key pattern. */
export const ColumnName = Type.String({
  pattern: `^${NO_CONTROL}{1,128}$`,
  errorMessage: 'must be a column name of 1 to 128 characters without control characters',
});

/** Splits an `s3://bucket/key` URI. Throws `TypeError` when the input is not one. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.*)$/s.exec(uri);
  if (!match?.[1]) throw new TypeError(`not an s3://bucket/key URI: ${uri}`);
  return { bucket: match[1], key: match[2] ?? '' };
}

/** Builds an `s3://bucket/key` URI. */
export function formatS3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
