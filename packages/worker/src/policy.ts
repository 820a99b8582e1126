import { isObjectTooLargeError, isS3LocationError } from '@tq/aws';
import { type RetryOptions, retryDelaySeconds } from './backoff.js';
import { isNonRetryableError, isRetryLaterError } from './errors.js';

/**
 * How one attempt at a message ended, as the failure policy sees it:
 * - `succeeded`: the handler resolved.
 * - `failed`: it may succeed later (a handler error, a timeout, an S3 read that failed for a
 *   transient reason); `delaySeconds` when the failure said when to come back (`RetryLaterError`).
 * - `poison`: it can never succeed (an unparseable body, a schema violation, a
 *   `NonRetryableError`, a location outside the allow-list); `code` and `message` say why.
 * - `shutdown`: the worker is stopping and the attempt was cut short (or never started).
 */
export type AttemptOutcome =
  | { kind: 'succeeded' }
  | { kind: 'failed'; message: string; delaySeconds?: number }
  | { kind: 'poison'; code: string; message: string }
  | { kind: 'shutdown' };

/** What to do with the message: delete it, make it visible again later, dead-letter it, or hand it back now. */
export type Decision =
  | { action: 'ack' }
  | { action: 'retry'; delaySeconds: number }
  | { action: 'dead-letter'; code: string; reason: string }
  | { action: 'release' };

/** What the policy needs to know besides the outcome. */
export interface PolicyContext {
  /** 1-based; SQS's `ApproximateReceiveCount`. */
  attempt: number;
  /** The queue's redrive `maxReceiveCount`; undefined when the queue has none. */
  maxReceiveCount: number | undefined;
  retry?: RetryOptions | undefined;
  random?: () => number;
}

/**
 * The failure policy: every settlement of a message, and so every path to the dead-letter
 * queue, is decided here.
 *
 * | outcome | attempt < maxReceiveCount | attempt ≥ maxReceiveCount |
 * | --- | --- | --- |
 * | succeeded | ack | ack |
 * | failed | retry after the given delay, else exponential backoff with jitter | dead-letter `RETRIES_EXHAUSTED` with the last error |
 * | poison | dead-letter with its code | dead-letter with its code |
 * | shutdown | release (visible again now) | release |
 *
 * The last failed attempt is dead-lettered by the worker rather than left to the queue's
 * redrive policy, which would move it with no reason attached.
 */
export function decide(outcome: AttemptOutcome, context: PolicyContext): Decision {
  switch (outcome.kind) {
    case 'succeeded':
      return { action: 'ack' };
    case 'shutdown':
      return { action: 'release' };
    case 'poison':
      return { action: 'dead-letter', code: outcome.code, reason: outcome.message };
    case 'failed':
      if (context.maxReceiveCount !== undefined && context.attempt >= context.maxReceiveCount) {
        return {
          action: 'dead-letter',
          code: 'RETRIES_EXHAUSTED',
          reason: `failed ${context.attempt} attempts; last error: ${outcome.message}`,
        };
      }
      return {
        action: 'retry',
        delaySeconds: outcome.delaySeconds ?? retryDelaySeconds(context.attempt, context.retry, context.random),
      };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Turns what a handler threw into an outcome: `NonRetryableError` and the runtime's own
 * refusals (a location outside the allow-list, an object over its byte limit) are poison;
 * `RetryLaterError` is a failure with its delay; anything else is a failure with backoff.
 */
export function outcomeOfError(error: unknown): Extract<AttemptOutcome, { kind: 'failed' | 'poison' }> {
  if (isNonRetryableError(error)) return { kind: 'poison', code: error.code, message: error.message };
  if (isS3LocationError(error)) return { kind: 'poison', code: error.code, message: error.message };
  if (isObjectTooLargeError(error)) return { kind: 'poison', code: error.code, message: error.message };
  if (isRetryLaterError(error)) return { kind: 'failed', message: error.message, delaySeconds: error.delaySeconds };
  return { kind: 'failed', message: messageOf(error) };
}
