/**
 * The tq worker runtime: consume one task type from its SQS queue.
 *
 * ```ts
 * import { createWorker, NonRetryableError } from '@tq/worker';
 *
 * const worker = createWorker({
 *   task: 'send_email',
 *   concurrency: 20,
 *   http: { port: 8080 },
 *   handler: async (email, { id, attempt, signal, logger }) => {
 *     logger.info({ to: email.to }, 'sending');
 *     await sendMail(email, { messageId: `<${id}@tq>`, signal });
 *   },
 * });
 * await worker.start(); // stops by itself on SIGTERM/SIGINT
 * ```
 *
 * @module
 */

export type { S3AllowList } from '@tq/aws';
export { runWorkerApp, type WorkerAppContext } from './app.js';
export { type RetryOptions, retryDelaySeconds } from './backoff.js';
export {
  type EnvNumberSpec,
  envNumber,
  envNumbers,
  envString,
  readWorkerEnvironment,
  tableDefaults,
  type WorkerEnvironment,
} from './env.js';
export {
  isNonRetryableError,
  isRetryLaterError,
  isTaskCancelledError,
  isWorkerError,
  NonRetryableError,
  RetryLaterError,
  TaskCancelledError,
  WorkerError,
  type WorkerErrorCode,
} from './errors.js';
export type { GuardedEnvelope, IdempotencyOptions } from './guard.js';
export { type Limit, WORKER_LIMITS } from './limits.js';
export {
  createWorkerMetrics,
  type HealthProbe,
  type HealthServer,
  startHealthServer,
  type WorkerMetrics,
} from './observability.js';
export { type AttemptOutcome, type Decision, decide, outcomeOfError, type PolicyContext } from './policy.js';
export { CONFIG_FILE_NAMES, findConfigFile, loadProject, type Project, ProjectConfigError } from './project.js';
export {
  checkS3Location,
  openS3Input,
  resolveS3Allow,
  type S3InputOptions,
  s3ReadFailure,
  s3WriteFailure,
} from './s3.js';
export type {
  FlowContext,
  HandlerContext,
  TaskHandler,
  Worker,
  WorkerAppDeps,
  WorkerEvents,
  WorkerOptions,
  WorkerState,
} from './types.js';
export { createWorker } from './worker.js';
