/**
 * Send typed tq tasks from any service.
 *
 * ```ts
 * import { createProducer } from '@tq/producer-sdk';
 *
 * const producer = createProducer(); // TQ_ENDPOINT / AWS_REGION / TQ_PREFIX from the environment
 * const { id } = await producer.send('send_email', {
 *   to: ['john@example.com'],
 *   subject: 'Welcome to our app',
 *   text: 'Thank you for signing up!',
 * });
 * await producer.send('generate_report', report, { delaySeconds: 60 }); // straight to the queue
 * ```
 *
 * @module
 */
export {
  FLOW_LIMITS,
  type FlowFailurePolicy,
  type FlowNode,
  FlowValidationError,
  isFlowValidationError,
  isTaskValidationError,
  type TaskName,
  type TaskPayload,
  TaskValidationError,
} from '@tq/contracts';
export { Destinations } from './destinations.js';
export {
  fromAwsError,
  isProducerError,
  PayloadTooLargeError,
  ProducerError,
  type ProducerErrorCode,
} from './errors.js';
export { type FlowSendDeps, sendHeld } from './flow-start.js';
export {
  FLOW_CLAIM_LEASE_MS,
  FLOW_RESULT_INLINE_BYTES,
  FlowBusyError,
  FlowEngine,
  type FlowEngineOptions,
  type FlowTaskOutcome,
  isFlowBusyError,
} from './flows.js';
export { MAX_BATCH_ENTRIES, SNS_MAX_BYTES, SQS_MAX_BYTES } from './limits.js';
export { planBatches } from './plan.js';
export { createProducer } from './producer.js';
export type {
  BatchItem,
  BatchItemResult,
  FlowSpec,
  FlowStarted,
  FlowTaskSpec,
  Producer,
  ProducerOptions,
  SendOptions,
  SendResult,
} from './types.js';
