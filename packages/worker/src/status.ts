import {
  createStatusStore,
  DEFAULT_TTL_SECONDS,
  event,
  findInputs,
  isoTime,
  putProgress,
  type StatusStore,
  type TaskProgress,
  type WrittenCallback,
} from '@tq/status';
import type { Logger } from 'pino';
import { onCollect, type WorkerMetrics } from './observability.js';
import type { WorkerEvents } from './types.js';

/** How the recorder listens to the worker's events. */
export type StatusRecorderOn = <E extends keyof WorkerEvents>(
  event: E,
  listener: (...args: WorkerEvents[E]) => void,
) => unknown;

/** A task's progress is written at most this often (the latest report wins). */
const PROGRESS_INTERVAL_MS = 1_000;

/** A task's success as its status records it. */
export interface SucceededStep {
  id: string;
  attempt: number;
  durationMs: number;
  result: unknown;
}

/**
 * Where settlement makes a task's final step durable before its message goes: the status
 * recorder. A message deleted before its final step was written would leave the task `running`
 * for good if the worker died in between; written first, a death in between only means a
 * redelivery, which writes the step again.
 */
export interface FinalSteps {
  /** Records success; `then(written, token)` runs once the step is in the table or was given up on. */
  succeeded<TToken>(step: SucceededStep, then: WrittenCallback<TToken>, token: TToken): void;
  /** Records a dead letter; resolves once the step is in the table (`true`) or was given up on. */
  deadLettered(id: string, attempt: number, code: string, reason: string): Promise<boolean>;
  /** Records a cancellation; resolves once the step is in the table (`true`) or was given up on. */
  cancelled(id: string, attempt: number): Promise<boolean>;
}

/**
 * Writes a worker's task steps to the status store: `received` and `running` when a handler
 * starts, `retrying` from the worker's events, and the final `succeeded` and `dead-lettered`
 * from settlement, which waits for them (`FinalSteps`) before it deletes the message. Messages
 * that never decoded have no task id, so they have no status (their dead letter carries the
 * reason). Nothing here can fail a task: a step the store did not take is counted, and the
 * message is deleted all the same.
 */
export class StatusRecorder implements FinalSteps {
  readonly #store: StatusStore;
  readonly #owned: boolean;
  readonly #task: string;
  readonly #unregister: () => void;
  /** Tasks whose progress was written within the last second, with the latest report held back. */
  readonly #progress = new Map<string, { latest: TaskProgress | undefined; timer: NodeJS.Timeout | undefined }>();
  /** The `s3://` inputs of tasks running now, so their results list only outputs as artifacts. */
  readonly #inputs = new Map<string, string[]>();

  constructor(options: {
    status: true | StatusStore;
    task: string;
    prefix: string;
    logger: Logger;
    metrics: WorkerMetrics;
    on: StatusRecorderOn;
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
    options.on('retrying', ({ id, attempt, delaySeconds, error }) => {
      if (id === undefined) return;
      this.#inputs.delete(id);
      const failure = describe(error);
      writer.record(id, task, event('retrying', attempt, { delaySeconds, ...failure }), { error: failure });
    });
  }

  succeeded<TToken>(
    { id, attempt, durationMs, result }: SucceededStep,
    then: WrittenCallback<TToken>,
    token: TToken,
  ): void {
    const inputs = this.#inputs.get(id) ?? [];
    this.#inputs.delete(id);
    this.#store.writer.record(
      id,
      this.#task,
      event('succeeded', attempt, { durationMs }),
      { result, inputs },
      then,
      token,
    );
  }

  deadLettered(id: string, attempt: number, code: string, reason: string): Promise<boolean> {
    this.#inputs.delete(id);
    return new Promise((resolve) => {
      this.#store.writer.record(
        id,
        this.#task,
        event('dead-lettered', attempt, { code, message: reason }),
        { error: { code, message: reason } },
        resolve,
        undefined,
      );
    });
  }

  cancelled(id: string, attempt: number): Promise<boolean> {
    this.#inputs.delete(id);
    return new Promise((resolve) => {
      this.#store.writer.record(id, this.#task, event('cancelled', attempt), {}, resolve, undefined);
    });
  }

  /** The store the steps go to (cancellations are read from it too). */
  get store(): StatusStore {
    return this.#store;
  }

  /** The handler is about to run: received at `receivedAt`, running now. */
  running(id: string, attempt: number, receivedAt: number, payload: unknown): void {
    const writer = this.#store.writer;
    const inputs = findInputs(payload);
    if (inputs.length > 0) this.#inputs.set(id, inputs);
    writer.record(id, this.#task, event('received', attempt, undefined, isoTime(receivedAt)));
    writer.record(id, this.#task, event('running', attempt));
  }

  /**
   * Records a handler's progress: the first report of a task at once, then at most one a second
   * (the latest, when the second is over), so a handler may report as often as it likes. Never
   * throws: a report the store did not take only leaves an older number showing.
   */
  progress(id: string, fraction: number, note: string | undefined): void {
    let entry = this.#progress.get(id);
    const report: TaskProgress = { fraction, at: isoTime() };
    if (note !== undefined) report.note = note;
    if (entry?.timer !== undefined) {
      entry.latest = report;
      return;
    }
    entry ??= { latest: undefined, timer: undefined };
    this.#progress.set(id, entry);
    this.#putProgress(id, report);
    const state = entry;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      const latest = state.latest;
      state.latest = undefined;
      if (latest === undefined) this.#progress.delete(id);
      else this.progress(id, latest.fraction, latest.note);
    }, PROGRESS_INTERVAL_MS);
    state.timer.unref();
  }

  #putProgress(id: string, report: TaskProgress): void {
    const { dynamodb, tableName } = this.#store;
    putProgress(dynamodb, tableName, id, report, DEFAULT_TTL_SECONDS).catch(() => {
      this.#store.writer.stats.failed += 1;
    });
  }

  /** Writes what is buffered now and waits for it (settlement's waiting deletes are then queued). */
  flush(): Promise<void> {
    return this.#store.writer.flush();
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
