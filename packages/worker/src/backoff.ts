import { backoffDelay } from '@tq/aws';
import { WORKER_LIMITS } from './limits.js';

/** How long a failed attempt waits before SQS delivers the message again. */
export interface RetryOptions {
  /** Delay ceiling of the first retry, in seconds. Default 2. */
  baseSeconds?: number;
  /** Largest delay, in seconds (SQS allows up to 43,200). Default 900. */
  capSeconds?: number;
  /**
   * `full` (default): a random delay between 0 and the exponential ceiling, so a burst of
   * failures does not come back as a burst; `none`: exactly the ceiling.
   */
  jitter?: 'full' | 'none';
}

/**
 * The visibility timeout for a retry after failed attempt `attempt` (1-based), in whole seconds:
 * `@tq/aws`'s one backoff formula, in seconds.
 */
export function retryDelaySeconds(attempt: number, options: RetryOptions = {}, random = Math.random): number {
  const delay = backoffDelay(
    attempt,
    { baseMs: options.baseSeconds ?? 2, capMs: options.capSeconds ?? 900, jitter: options.jitter ?? 'full' },
    random,
  );
  const { min, max } = WORKER_LIMITS.retryDelaySeconds;
  return Math.min(max, Math.max(min, Math.round(delay)));
}

/** Exponential backoff in milliseconds for repeated failures of the same call (receive errors). */
export function backoffMs(failures: number, baseMs: number, capMs: number, random = Math.random): number {
  // Equal jitter: never less than half the ceiling, so an outage is not hammered.
  return Math.round(backoffDelay(failures, { baseMs, capMs, jitter: 'equal' }, random));
}
