import { isRetryableAwsError } from './errors.js';

/** How repeated attempts of one call back off. */
export interface BackoffOptions {
  /** The ceiling of the first wait, in ms. */
  baseMs: number;
  /** The largest wait, in ms. */
  capMs: number;
  /**
   * `full`: anywhere from 0 to the ceiling, so failures of many callers do not come back as a
   * burst; `equal` (default): from half the ceiling to all of it, so an outage is not hammered;
   * `none`: exactly the ceiling.
   */
  jitter?: 'full' | 'equal' | 'none';
}

/**
 * tq's one backoff formula: after failed attempt `attempt` (1-based), wait up to
 * `min(capMs, baseMs · 2^(attempt − 1))` ms, jittered as `jitter` says. Used by every retry loop
 * (batch calls, receives, the bridge's publishes, status writes) and, in seconds, by the worker's
 * retry delays.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  switch (options.jitter ?? 'equal') {
    case 'full':
      return random() * ceiling;
    case 'none':
      return ceiling;
    case 'equal':
      return ceiling / 2 + (random() * ceiling) / 2;
  }
}

/**
 * Waits `ms`, or rejects with the signal's reason once it aborts. The global timer, so fake
 * timers in callers' tests control it.
 */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One attempt of a batch call: the entries to try again (transient per-entry failures, or unconfirmed ones). */
export interface BatchAttempt<TEntry> {
  retry: readonly TEntry[];
  /** What made them fail, reported if they are given up on. */
  error?: unknown;
}

/** Options of `retryBatch`. */
export interface RetryBatchOptions<TEntry> {
  /** Attempts per entry, the first included. */
  attempts: number;
  backoff: BackoffOptions;
  /**
   * One batch call with the entries still pending. It settles the entries that succeeded or
   * failed for good itself, and returns those to try again. A throw fails the whole call:
   * classified with `isRetryableAwsError`, it is tried again or given up on.
   */
  call(pending: readonly TEntry[], attempt: number): Promise<BatchAttempt<TEntry>>;
  /** The entries given up on (attempts spent, or an error that will not pass), with the error. */
  giveUp(entries: readonly TEntry[], error: unknown): void;
  /** Stops waiting between attempts (the entries left are given up on with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * Runs a batch call (`SendMessageBatch`, `PublishBatch`, `BatchWriteItem`…) until every entry is
 * settled: entries that failed transiently, or that the answer did not mention, go again after
 * `backoffDelay`; after `attempts`, or on an error no attempt will get past, they are given up on.
 * Partial failure is the normal case of AWS's batch APIs: one entry's failure never fails the
 * others.
 */
export async function retryBatch<TEntry>(
  entries: readonly TEntry[],
  options: RetryBatchOptions<TEntry>,
): Promise<void> {
  let pending = entries;
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    let outcome: BatchAttempt<TEntry>;
    try {
      outcome = await options.call(pending, attempt);
    } catch (error) {
      if (!isRetryableAwsError(error)) {
        options.giveUp(pending, error);
        return;
      }
      outcome = { retry: pending, error };
    }
    if (outcome.retry.length === 0) return;
    if (attempt >= options.attempts) {
      options.giveUp(outcome.retry, outcome.error ?? new Error('the batch call did not confirm these entries'));
      return;
    }
    try {
      await sleep(backoffDelay(attempt, options.backoff), options.signal);
    } catch {
      options.giveUp(outcome.retry, options.signal?.reason ?? outcome.error);
      return;
    }
    pending = outcome.retry;
  }
}
