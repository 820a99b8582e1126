/**
 * @tq/status: what happened to each task, by id. Workers record each step (received, running,
 * succeeded, retrying, dead-lettered) in a DynamoDB table, producers optionally `sent`; the CLI,
 * producers and the console read it.
 *
 * ```ts
 * const store = createStatusStore();                  // TQ_DYNAMODB_ENDPOINT or TQ_ENDPOINT, TQ_PREFIX
 * const status = await store.reader.get(taskId);      // TaskStatus | undefined
 * ```
 */
export { fromAttribute, fromItem, toAttribute } from './attributes.js';
export { CANCEL_STEP, CANCELS_KEY, type CancelRequest, CancelStore } from './cancels.js';
export { GROUP_SHARD_SIZE } from './flow-items.js';
export { type FlowView, flowViewJson } from './flow-read.js';
export type {
  FlowRecord,
  FlowState,
  FlowTaskEntry,
  GroupCount,
  HeldTask,
  JoinState,
  StoredOutcome,
} from './flow-types.js';
export { FlowStore } from './flows.js';
export {
  type Claim,
  type ClaimOutcome,
  createIdempotencyStore,
  ensureIdempotencyTable,
  IDEMPOTENCY_TTL_ATTRIBUTE,
  IdempotencyStore,
  type IdempotencyStoreOptions,
  idempotencyTableDefinition,
  idempotencyTableName,
  payloadHash,
} from './idempotency.js';
export { PROGRESS_STEP, putProgress } from './progress.js';
export { StatusNotTrackedError, StatusReader, toTaskStatus } from './reader.js';
export { event, findArtifacts, findInputs, isoTime, timelineSteps } from './steps.js';
export {
  createStatusStore,
  idempotencyEnabled,
  type StatusStore,
  type StatusStoreOptions,
  statusEnabled,
} from './store.js';
export {
  ensureStatusTable,
  PROBE_TIMEOUT_MS,
  probeDynamoDb,
  STATUS_TTL_ATTRIBUTE,
  statusTableDefinition,
} from './table.js';
export {
  DEFAULT_TTL_SECONDS,
  FINAL_STATES,
  MAX_MESSAGE_CHARS,
  MAX_RESULT_BYTES,
  MAX_TIMELINE_ATTEMPTS,
  statusTableName,
  type TaskEvent,
  type TaskProgress,
  type TaskState,
  type TaskStatus,
} from './types.js';
export {
  StatusWriter,
  type StatusWriterOptions,
  type StatusWriterStats,
  type StepDetails,
  type WrittenCallback,
} from './writer.js';
