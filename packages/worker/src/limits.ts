// The one table of the worker's numeric settings: ranges and defaults, read by the options check
// (`options.ts`), the environment reader (`env.ts`) and the errors and backoff that clamp to SQS's range.

import { AWS_LIMITS } from '@tq/contracts';

/** One numeric setting: its range, its default, and the environment variable apps read it from. */
export interface Limit {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  readonly default?: number;
  readonly env?: string;
}

/** SQS's longest visibility timeout: 12 h. A retry delay is a visibility timeout too. */
const SQS_MAX_VISIBILITY_SECONDS = AWS_LIMITS.sqs.maxVisibilityTimeoutSeconds;

/**
 * Every numeric worker setting in one table: `createWorker` checks options against it and
 * `readWorkerEnvironment` reads `TQ_*` variables with it, so a range exists once.
 */
export const WORKER_LIMITS = {
  concurrency: { min: 1, max: 10_000, integer: true, default: 10, env: 'TQ_CONCURRENCY' },
  batchSize: { min: 1, max: AWS_LIMITS.sqs.maxBatchEntries, integer: true, default: AWS_LIMITS.sqs.maxBatchEntries },
  pollers: { min: 1, max: 100, integer: true },
  prefetch: { min: 0, max: 1_000, integer: true, default: 0, env: 'TQ_PREFETCH' },
  waitTimeSeconds: {
    min: 0,
    max: AWS_LIMITS.sqs.maxWaitTimeSeconds,
    integer: true,
    default: AWS_LIMITS.sqs.maxWaitTimeSeconds,
  },
  emptyReceiveDelayMs: { min: 0, max: 600_000, integer: false },
  visibilityTimeoutSeconds: {
    min: 1,
    max: SQS_MAX_VISIBILITY_SECONDS,
    integer: true,
    default: 30,
    env: 'TQ_VISIBILITY_TIMEOUT',
  },
  handlerTimeoutMs: {
    min: 0,
    max: SQS_MAX_VISIBILITY_SECONDS * 1000,
    integer: false,
    default: 15 * 60_000,
    env: 'TQ_HANDLER_TIMEOUT_MS',
  },
  shutdownGraceMs: { min: 0, max: 3_600_000, integer: false, default: 25_000, env: 'TQ_SHUTDOWN_GRACE_MS' },
  abortWaitMs: { min: 0, max: 600_000, integer: false, default: 5_000, env: 'TQ_ABORT_WAIT_MS' },
  retryDelaySeconds: { min: 0, max: SQS_MAX_VISIBILITY_SECONDS, integer: false },
  receiveBackoffBaseMs: { min: 1, max: 60_000, integer: false, default: 250 },
  receiveBackoffCapMs: { min: 1, max: 600_000, integer: false, default: 20_000 },
} as const satisfies Record<string, Limit>;
