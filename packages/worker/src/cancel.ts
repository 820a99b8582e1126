import { CancelStore, DEFAULT_TTL_SECONDS, type StatusStore } from '@tq/status';
import type { Logger } from 'pino';

/** How far back a worker looks for cancellations when it starts: as long as SQS keeps a message. */
const LOOKBACK_MS = DEFAULT_TTL_SECONDS * 1000;
/** Ids kept in memory at most (the oldest go first): cancellations are rare, tasks are not. */
const MAX_IDS = 100_000;

/**
 * What a worker knows of cancellations: the ids (tasks' and flows') cancelled in the status table,
 * read with one query per interval from its `#cancels` index, whatever the worker's throughput.
 * A message of a cancelled task or flow is settled without running; a running handler of one is
 * aborted at the next read (`onCancelled`).
 */
export class CancelWatch {
  readonly #store: CancelStore;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  readonly #onCancelled: (ids: ReadonlySet<string>) => void;
  readonly #ids = new Set<string>();
  #position: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(options: {
    status: StatusStore;
    intervalMs: number;
    logger: Logger;
    onCancelled: (ids: ReadonlySet<string>) => void;
  }) {
    const { dynamodb, tableName } = options.status;
    this.#store = new CancelStore({ dynamodb, tableName, ttlSeconds: DEFAULT_TTL_SECONDS });
    this.#intervalMs = options.intervalMs;
    this.#logger = options.logger;
    this.#onCancelled = options.onCancelled;
  }

  /** Whether a task (or the flow it is part of) was cancelled. */
  cancelled(envelope: { id: string; flow?: { id: string } | undefined }): boolean {
    if (this.#ids.size === 0) return false;
    return this.#ids.has(envelope.id) || (envelope.flow !== undefined && this.#ids.has(envelope.flow.id));
  }

  /** Reads what was cancelled (the last 14 days at first), then again every interval. */
  async start(): Promise<void> {
    await this.#read();
    this.#timer = setInterval(() => void this.#read(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #read(): Promise<void> {
    try {
      const { requests, position } = await this.#store.since(this.#position, new Date(Date.now() - LOOKBACK_MS));
      this.#position = position;
      if (this.#failing) this.#logger.info('cancellations readable again');
      this.#failing = false;
      if (requests.length === 0) return;
      const fresh = new Set<string>();
      for (const { id } of requests) {
        this.#ids.add(id);
        fresh.add(id);
      }
      for (const id of this.#ids) {
        if (this.#ids.size <= MAX_IDS) break;
        this.#ids.delete(id);
      }
      this.#onCancelled(fresh);
    } catch (error) {
      // Tasks run on; a cancellation waits until the store answers again.
      if (!this.#failing) this.#logger.warn({ err: error }, 'cannot read cancellations; trying again');
      this.#failing = true;
    }
  }
}
