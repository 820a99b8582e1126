import type { DeadLetter, DeadLetters } from './queues.js';

/** A dead-letter queue scan as far as it got. */
export interface ScanState {
  read: readonly DeadLetter[];
  total: number;
  done: boolean;
  error?: string;
  scannedAt: string;
  /** Resolves after the first receive (or the end): a page shows what was read so far. */
  firstBatch: Promise<void>;
}

/**
 * DLQ scans kept per task and refreshed on demand (a page reload, or after an action). A scan
 * serves what it has read so far: the first page comes after one receive, not after all.
 */
export class DeadLetterScans {
  readonly #deadLetters: DeadLetters;
  readonly #scans = new Map<string, ScanState>();

  constructor(deadLetters: DeadLetters) {
    this.#deadLetters = deadLetters;
  }

  /** The task's scan: the kept one, or a new one when `fresh` (never two at a time). */
  of(task: string, fresh: boolean): ScanState {
    const existing = this.#scans.get(task);
    if (existing && (!fresh || !existing.done)) return existing;
    let first: () => void = () => undefined;
    const state: ScanState = {
      read: [],
      total: 0,
      done: false,
      scannedAt: new Date().toISOString(),
      firstBatch: new Promise<void>((resolve) => {
        first = resolve;
      }),
    };
    this.#scans.set(task, state);
    this.#deadLetters
      .scan(task, 10_000, (read, total) => {
        state.read = read;
        state.total = total;
        first();
      })
      .then(
        (scan) => {
          state.read = scan.read;
          state.total = scan.total;
          state.scannedAt = scan.scannedAt;
        },
        (error: unknown) => {
          state.error = (error as Error).message;
          this.#scans.delete(task);
        },
      )
      .finally(() => {
        state.done = true;
        first();
      });
    return state;
  }

  /** Forgets a task's scan (after a write action changed its DLQ). */
  forget(task: string): void {
    this.#scans.delete(task);
  }
}
