import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { S3Uri } from './common.js';
import { Envelope } from './envelope.js';

/**
 * Where a claim-checked task's envelope lives: the whole envelope JSON is stored as one S3
 * object, and `sha256`/`bytes` let the worker check it is the object the producer wrote.
 */
export const ClaimCheck = Type.Object(
  {
    uri: S3Uri,
    bytes: Type.Integer({ minimum: 0 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', errorMessage: 'must be a lowercase hex SHA-256 digest' }),
  },
  { additionalProperties: false },
);
export type ClaimCheck = Static<typeof ClaimCheck>;

const { payload: _payload, ...metaFields } = Envelope.properties;

/**
 * What goes on the queue instead of an envelope too large for SQS or SNS: the envelope's
 * fields without `payload`, plus `claimCheck`. Routing attributes stay on the message, so
 * SNS filter policies still work; the worker runtime fetches the envelope and checks that
 * its id, task and version match the pointer.
 */
export const ClaimCheckPointer = Type.Object({ ...metaFields, claimCheck: ClaimCheck });
export type ClaimCheckPointer = Static<typeof ClaimCheckPointer>;

const pointerCheck = TypeCompiler.Compile(ClaimCheckPointer);

/** True when a decoded message body is a claim-check pointer (has `claimCheck`, no `payload`). */
export function isClaimCheckPointer(value: unknown): value is ClaimCheckPointer {
  return (
    typeof value === 'object' &&
    value !== null &&
    'claimCheck' in value &&
    !('payload' in value) &&
    pointerCheck.Check(value)
  );
}

/** True when a decoded body looks like a pointer (has `claimCheck`, no `payload`) even if malformed. */
export function looksLikeClaimCheck(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'claimCheck' in value && !('payload' in value);
}

/**
 * The S3 key a producer stores a claim-checked envelope under. Everything lives under
 * `CLAIM_CHECK_PREFIX`, so one lifecycle rule on that prefix expires them all.
 */
export function claimCheckKey(envelope: { id: string; task: string; createdAt: string }): string {
  const day = envelope.createdAt.slice(0, 10).replaceAll('-', '/');
  return `${CLAIM_CHECK_PREFIX}${envelope.task}/${day}/${envelope.id}.json`;
}

/**
 * The largest envelope that may go by claim check: producers refuse larger tasks before sending,
 * and workers refuse pointers that declare more (64 MiB).
 */
export const MAX_CLAIM_CHECK_BYTES = 64 * 1024 * 1024;

/** Key prefix of every claim-checked envelope in the bucket. */
export const CLAIM_CHECK_PREFIX = 'tq/claim-checks/';

/**
 * Message attributes the worker runtime adds when it moves a message to its dead-letter
 * queue, so `tq dlq peek` (or any SQS console) shows why without parsing logs.
 */
export const FAILURE_ATTRIBUTES = {
  /** Why, as a code: `SCHEMA_VIOLATION`, `UNKNOWN_TASK`, `NON_RETRYABLE`, `RETRIES_EXHAUSTED`, ... */
  code: 'tq-error-code',
  /** The error message (truncated to 1 KiB). */
  message: 'tq-error-message',
  /** URL of the queue the message failed on: where `tq dlq redrive` sends it back to. */
  sourceQueue: 'tq-source-queue',
  /** `ApproximateReceiveCount` when it was dead-lettered. */
  receiveCount: 'tq-receive-count',
  /** ISO-8601 time the first attempt failed (for retried messages: when it was first received). */
  firstFailureAt: 'tq-first-failure-at',
} as const;
