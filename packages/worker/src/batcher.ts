import { AWS_LIMITS, backoffDelay } from '@tq/aws';
/** The outcome of one failed batch entry, as SQS reports it. */
export interface EntryFailure {
  code: string;
  message: string;
  /** SQS's `SenderFault`: true means retrying the same entry cannot succeed. */
  senderFault: boolean;
}

/** A batch entry that failed for good. */
export class BatchEntryError extends Error {
  override readonly name = 'BatchEntryError';
  readonly code: string;

  constructor(failure: EntryFailure) {
    super(`${failure.code}: ${failure.message}`);
    this.code = failure.code;
  }
}

export interface BatcherOptions<TItem> {
  /** Sends one batch (at most `maxSize` entries, ids unique within it); returns the failed entries by id. */
  send(entries: { id: string; item: TItem }[]): Promise<Map<string, EntryFailure>>;
  /** Entries per call (SQS: 10). */
  maxSize?: number;
  /** How long a partial batch waits for company before it is sent. */
  windowMs?: number;
  /** Calls in flight at once. */
  maxConcurrent?: number;
  /** Attempts per entry for transient failures (whole-call errors and entries without sender fault). */
  maxAttempts?: number;
  /** Backoff before the second attempt; doubles per attempt. */
  retryBaseMs?: number;
}

interface Pending<TItem> {
  item: TItem;
  attempts: number;
  /** When it was queued (`performance.now()`), for the window of the batch it waits in. */
  at: number;
  /** Called once: with `undefined` when SQS accepted the entry, with the error when it failed for good. */
  done(error: unknown, item: TItem): void;
}

/**
 * Collects single operations (delete, change visibility) into SQS batch calls: a batch goes
 * out when it is full or `windowMs` after its first entry, and while calls are in flight new
 * entries gather into the next batch, so batching grows with load without adding latency
 * when idle. Transient failures are retried per entry with backoff.
 */
export class Batcher<TItem> {
  readonly #send: BatcherOptions<TItem>['send'];
  readonly #maxSize: number;
  readonly #windowMs: number;
  readonly #maxConcurrent: number;
  readonly #maxAttempts: number;
  readonly #retryBaseMs: number;
  /** Waiting entries are `#queue[#head..]`: taking a batch moves the head instead of shifting the array. */
  #queue: Pending<TItem>[] = [];
  #head = 0;
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #retrying = 0;
  #idle: (() => void)[] = [];
  #nextId = 0;

  constructor(options: BatcherOptions<TItem>) {
    this.#send = options.send;
    this.#maxSize = options.maxSize ?? AWS_LIMITS.sqs.maxBatchEntries;
    this.#windowMs = options.windowMs ?? 5;
    this.#maxConcurrent = options.maxConcurrent ?? 4;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#retryBaseMs = options.retryBaseMs ?? 200;
  }

  /** Queues one operation; resolves when SQS accepted it, rejects when it failed for good. */
  add(item: TItem): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#enqueue({
        item,
        attempts: 0,
        at: 0,
        done: (error) => (error === undefined ? resolve() : reject(error)),
      });
    });
  }

  /**
   * Queues one operation and calls `done` once, with the item: with `undefined` when SQS accepted
   * it, with the error when it failed for good. `add` without a promise, for callers that do not
   * wait (a long-lived `done` makes no closure per item).
   */
  push(item: TItem, done: (error: unknown, item: TItem) => void): void {
    this.#enqueue({ item, attempts: 0, at: 0, done });
  }

  /** Sends everything queued now and resolves when nothing is pending or in flight. */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#drain(true);
    if (this.pending === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  get pending(): number {
    return this.#waiting + this.#inFlight + this.#retrying;
  }

  get #waiting(): number {
    return this.#queue.length - this.#head;
  }

  #enqueue(pending: Pending<TItem>): void {
    pending.at = performance.now();
    this.#queue.push(pending);
    if (this.#waiting >= this.#maxSize) this.#drain(false);
    else this.#schedule(this.#windowMs);
  }

  /** Sends the partial batch waiting in `ms` unless it fills (or a timer is already set) first. */
  #schedule(ms: number): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#drain(true);
    }, ms);
  }

  #drain(partial: boolean): void {
    while (this.#inFlight < this.#maxConcurrent && this.#waiting >= (partial ? 1 : this.#maxSize)) {
      const batch = this.#queue.slice(this.#head, this.#head + this.#maxSize);
      this.#head += batch.length;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head >= 1024) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#inFlight += 1;
      void this.#sendBatch(batch).finally(() => {
        this.#inFlight -= 1;
        // Entries that gathered while this call was out go as a whole batch, or once the oldest
        // of them has waited its window: not as a partial batch at once, which under a steady
        // load would turn every call into one of a few entries.
        if (this.#waiting >= this.#maxSize) this.#drain(false);
        else if (this.#waiting > 0) {
          const left = this.#windowMs - (performance.now() - (this.#queue[this.#head] as Pending<TItem>).at);
          if (left <= 0) this.#drain(true);
          else this.#schedule(left);
        }
        this.#checkIdle();
      });
    }
  }

  async #sendBatch(batch: Pending<TItem>[]): Promise<void> {
    const entries = batch.map((pending) => ({ id: `e${(this.#nextId++ % 1_000_000).toString(36)}`, pending }));
    let failures: Map<string, EntryFailure>;
    try {
      failures = await this.#send(entries.map(({ id, pending }) => ({ id, item: pending.item })));
    } catch (error) {
      for (const { pending } of entries) this.#retryOrReject(pending, error);
      return;
    }
    for (const { id, pending } of entries) {
      const failure = failures.get(id);
      if (!failure) pending.done(undefined, pending.item);
      else if (failure.senderFault) pending.done(new BatchEntryError(failure), pending.item);
      else this.#retryOrReject(pending, new BatchEntryError(failure));
    }
  }

  #retryOrReject(pending: Pending<TItem>, error: unknown): void {
    pending.attempts += 1;
    if (pending.attempts >= this.#maxAttempts) {
      pending.done(error ?? new Error('batch call failed'), pending.item);
      return;
    }
    this.#retrying += 1;
    const delay = backoffDelay(pending.attempts, { baseMs: this.#retryBaseMs, capMs: this.#retryBaseMs * 32 });
    setTimeout(() => {
      this.#retrying -= 1;
      this.#enqueue(pending);
    }, delay);
  }

  #checkIdle(): void {
    if (this.pending > 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const resolve of waiters) resolve();
  }
}
