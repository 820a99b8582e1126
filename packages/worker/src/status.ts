import { createStatusStore, event, findInputs, isoTime, type StatusStore } from '@tq/status';
import type { Logger } from 'pino';
import { onCollect, type WorkerMetrics } from './observability.js';
import type { WorkerEvents } from './types.js';

type On = <E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void) => unknown;

/**
 * Writes a worker's task steps to the status store: `received` and `running` when a handler
 * starts, and the settlement's `succeeded`, `retrying` and `dead-lettered` from the worker's
 * events. Messages that never decoded have no task id, so they have no status (their dead letter
 * carries the reason). Nothing here can fail a task.
 */
export class StatusRecorder {
  readonly #store: StatusStore;
  readonly #owned: boolean;
  readonly #task: string;
  readonly #unregister: () => void;
  /** The `s3://` inputs of tasks running now, so their results list only outputs as artifacts. */
  readonly #inputs = new Map<string, string[]>();

  constructor(options: {
    status: true | StatusStore;
    task: string;
    prefix: string;
    logger: Logger;
    metrics: WorkerMetrics;
    on: On;
  }) {
    const { task, logger } = options;
    this.#task = task;
    this.#owned = options.status === true;
    this.#store =
      options.status === true
        ? createStatusStore({
            prefix: options.prefix,
            onOutage: (change) => {
              if (change.kind === 'down') {
                logger.warn(
                  { err: change.error, table: this.#store.tableName },
                  'status store unreachable: task status unknown until it recovers (tasks run as usual)',
                );
              } else {
                logger.info({ failed: change.failed }, 'status store reachable again');
              }
            },
          })
        : options.status;
    const writer = this.#store.writer;
    const failures = options.metrics.statusWriteFailures.labels({ task });
    let published = 0;
    this.#unregister = onCollect(options.metrics.statusWriteFailures, () => {
      failures.inc(writer.stats.failed - published);
      published = writer.stats.failed;
    });
    options.on('succeeded', ({ id, attempt, durationMs, result }) => {
      const inputs = this.#inputs.get(id) ?? [];
      this.#inputs.delete(id);
      writer.record(id, task, event('succeeded', attempt, { durationMs }), { result, inputs });
    });
    options.on('retrying', ({ id, attempt, delaySeconds, error }) => {
      if (id === undefined) return;
      this.#inputs.delete(id);
      const failure = describe(error);
      writer.record(id, task, event('retrying', attempt, { delaySeconds, ...failure }), { error: failure });
    });
    options.on('dead-lettered', ({ id, attempt, code, reason }) => {
      if (id === undefined) return;
      this.#inputs.delete(id);
      writer.record(id, task, event('dead-lettered', attempt, { code, message: reason }), {
        error: { code, message: reason },
      });
    });
  }

  /** The handler is about to run: received at `receivedAt`, running now. */
  running(id: string, attempt: number, receivedAt: number, payload: unknown): void {
    const writer = this.#store.writer;
    const inputs = findInputs(payload);
    if (inputs.length > 0) this.#inputs.set(id, inputs);
    writer.record(id, this.#task, event('received', attempt, undefined, isoTime(receivedAt)));
    writer.record(id, this.#task, event('running', attempt));
  }

  /** Writes what is buffered; closes the store if the worker made it. */
  async close(): Promise<void> {
    if (this.#owned) await this.#store.close();
    else await this.#store.writer.flush();
    this.#unregister();
  }
}

function describe(error: unknown): { code?: string; message: string } {
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { message: String(error) };
}
