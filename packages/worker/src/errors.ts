import { WORKER_LIMITS } from './limits.js';

const RETRY_LATER = Symbol.for('@tq/worker/RetryLaterError');
const NON_RETRYABLE = Symbol.for('@tq/worker/NonRetryableError');
const WORKER_ERROR = Symbol.for('@tq/worker/WorkerError');
const TASK_CANCELLED = Symbol.for('@tq/worker/TaskCancelledError');

/**
 * The reason `context.signal` is aborted with when the task (or its flow) was cancelled
 * (`tq cancel`, `producer.cancel`): the handler should stop; the task ends `cancelled`, neither
 * retried nor dead-lettered.
 */
export class TaskCancelledError extends Error {
  override readonly name = 'TaskCancelledError';
  readonly code = 'CANCELLED' as const;
  /** The cancelled id: the task's, or its flow's. */
  readonly id: string;

  constructor(id: string, reason?: string) {
    super(`cancelled${reason ? `: ${reason}` : ''} (${id})`);
    this.id = id;
    Object.defineProperty(this, TASK_CANCELLED, { value: true });
  }
}

/** True for a `TaskCancelledError`, even one created by another copy of this package. */
export function isTaskCancelledError(value: unknown): value is TaskCancelledError {
  return typeof value === 'object' && value !== null && TASK_CANCELLED in value;
}

/**
 * Throw from a handler to retry after exactly `delaySeconds` (0 to 43,200, SQS's range) instead of the
 * exponential backoff, e.g. when a rate-limited API says when to come back. The attempt still
 * counts towards the queue's `maxReceiveCount`.
 */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  readonly delaySeconds: number;

  constructor(delaySeconds: number, message = `retry in ${delaySeconds} s`, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const { min, max } = WORKER_LIMITS.retryDelaySeconds;
    this.delaySeconds = Math.min(max, Math.max(min, Math.round(delaySeconds)));
    Object.defineProperty(this, RETRY_LATER, { value: true });
  }
}

/**
 * Throw from a handler when retrying cannot help (a permanent rejection, bad data the schema
 * could not catch). The message goes to the dead-letter queue at once with `code` and the
 * message as reason attributes.
 */
export class NonRetryableError extends Error {
  override readonly name = 'NonRetryableError';
  /** Short machine-readable reason, e.g. `SMTP_REJECTED`; defaults to `NON_RETRYABLE`. */
  readonly code: string;

  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'NON_RETRYABLE';
    Object.defineProperty(this, NON_RETRYABLE, { value: true });
  }
}

/** True for a `RetryLaterError`, even one thrown by another copy of this package. */
export function isRetryLaterError(value: unknown): value is RetryLaterError {
  return typeof value === 'object' && value !== null && RETRY_LATER in value;
}

/** True for a `NonRetryableError`, even one thrown by another copy of this package. */
export function isNonRetryableError(value: unknown): value is NonRetryableError {
  return typeof value === 'object' && value !== null && NON_RETRYABLE in value;
}

/**
 * Why the runtime itself failed:
 * - `INVALID_OPTIONS`: an option is out of range (thrown by `createWorker`).
 * - `QUEUE_NOT_FOUND`: the task's queue does not exist (run `tq provision`).
 * - `NO_DEAD_LETTER_QUEUE`: the queue has no redrive policy and no `deadLetterQueueUrl` was given.
 * - `HANDLER_TIMEOUT`: a handler ran longer than `handlerTimeoutMs` (the attempt is retried).
 * - `ALREADY_STARTED`: `start()` was called twice.
 * - `HTTP_PORT_IN_USE`: the health server's port is taken (another worker on the host?).
 */
export type WorkerErrorCode =
  | 'INVALID_OPTIONS'
  | 'QUEUE_NOT_FOUND'
  | 'NO_DEAD_LETTER_QUEUE'
  | 'HANDLER_TIMEOUT'
  | 'ALREADY_STARTED'
  | 'HTTP_PORT_IN_USE';

/** Thrown by `createWorker`/`start()` for configuration problems, and reported for handler timeouts. */
export class WorkerError extends Error {
  override readonly name = 'WorkerError';
  readonly code: WorkerErrorCode;

  constructor(code: WorkerErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    Object.defineProperty(this, WORKER_ERROR, { value: true });
  }
}

/** True for a `WorkerError`, even from another copy of this package. */
export function isWorkerError(value: unknown): value is WorkerError {
  return typeof value === 'object' && value !== null && WORKER_ERROR in value;
}
