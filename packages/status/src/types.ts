/**
 * Where a task is in its life. `succeeded` and `dead-lettered` are final: once recorded, a late
 * redelivery of the same task adds to its timeline but never changes them.
 */
export type TaskState = 'sent' | 'received' | 'running' | 'retrying' | 'succeeded' | 'dead-lettered' | 'cancelled';

/** The final states. `cancelled`: `tq cancel` / `producer.cancel`, seen by a worker before or while it ran. */
export const FINAL_STATES: readonly TaskState[] = ['succeeded', 'dead-lettered', 'cancelled'];

/** One step of a task's timeline. */
export interface TaskEvent {
  state: TaskState;
  /** ISO 8601 time of the step. */
  at: string;
  /** Delivery attempt (1 = first receive); 0 for `sent`. */
  attempt: number;
  /** How long the handler ran (`succeeded`, `retrying`, `dead-lettered` after a handler ran). */
  durationMs?: number;
  /** When it will be tried again (`retrying`). */
  delaySeconds?: number;
  /** Failure class (`retrying`: the error's name; `dead-lettered`: the `tq-error-code`). */
  code?: string;
  /** Failure message, at most `MAX_MESSAGE_CHARS`. */
  message?: string;
  /** A delivery that arrived after the task's final state (SQS delivers at least once). */
  duplicate?: boolean;
}

/** Everything the store knows about one task. */
export interface TaskStatus {
  id: string;
  task: string;
  state: TaskState;
  /** Highest delivery attempt seen. */
  attempts: number;
  /** First time the store heard of the task. */
  createdAt: string;
  updatedAt: string;
  /** When it reached its final state. */
  finishedAt?: string;
  /** The handler's time in the successful attempt. */
  durationMs?: number;
  /** The handler's result when small enough (`MAX_RESULT_BYTES` of JSON), else absent with `resultTruncated`. */
  result?: unknown;
  resultTruncated?: boolean;
  /** Every `s3://` URI found in the result: the task's outputs. */
  artifacts?: string[];
  /** The last failure (`retrying`, `dead-lettered`). */
  error?: { code?: string; message: string };
  /** When `tq cancel` / `producer.cancel` asked for it to stop (before a worker settled it `cancelled`). */
  cancelRequested?: { at: string; reason?: string };
  /** The handler's last progress report (`context.progress`), while it runs and after. */
  progress?: TaskProgress;
  /** The timeline, oldest first (every step of the first `MAX_TIMELINE_ATTEMPTS` attempts, final steps after). */
  events: TaskEvent[];
  /** Epoch seconds after which DynamoDB's TTL removes the item. */
  expiresAt: number;
}

/** A handler's progress report: how far (0 to 1), what it is doing, when it said so. */
export interface TaskProgress {
  fraction: number;
  note?: string;
  at: string;
}

/** Handler results above this many bytes of JSON are not stored (artifacts still are). */
export const MAX_RESULT_BYTES = 4096;
/** Failure messages are cut to this many characters. */
export const MAX_MESSAGE_CHARS = 1024;
/** Attempts whose every step joins the timeline; later attempts add their final step only. */
export const MAX_TIMELINE_ATTEMPTS = 15;
/** How long a task's status is kept by default: 14 days, as long as SQS keeps a dead letter. */
export const DEFAULT_TTL_SECONDS = 14 * 24 * 3600;

/** The status table of a prefix: `<prefix>-task-status`. */
export function statusTableName(prefix: string): string {
  return `${prefix}-task-status`;
}
