import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import { isSpanContextValid, context as otelContext, trace } from '@opentelemetry/api';
import {
  AWS_LIMITS,
  type CreateTaskOptions,
  createTask,
  encodeMessageBody,
  type FlowRef,
  formatTraceparent,
  MAX_CLAIM_CHECK_BYTES,
  MESSAGE_ATTRIBUTES,
  type TaskEnvelope,
  type TaskName,
  type TaskPayload,
  type TaskRegistry,
} from '@tq/contracts';
import { PayloadTooLargeError, ProducerError } from './errors.js';
import { SNS_MAX_BYTES, SQS_MAX_BYTES } from './limits.js';
import type { SendOptions, SendResult } from './types.js';

const FIFO_ID = /^[\x21-\x7e]{1,128}$/;

/** A validated task, encoded for the wire: what a send or a batch entry carries. */
export interface Prepared {
  envelope: TaskEnvelope;
  route: 'topic' | 'queue';
  fifo: boolean;
  body: string;
  attributes: Record<string, MessageAttributeValue>;
  /** Body and attributes, as SQS and SNS count them. */
  bytes: number;
  /** The transport's limit on `bytes`. */
  limit: number;
  options: SendOptions;
  /** `s3://` URI of the stored envelope, once it went by claim check. */
  claimCheck?: string;
}

/** W3C trace headers, or none. */
export type TraceHeaders = { traceparent?: string; tracestate?: string };

/** Throws `ProducerError` (`INVALID_OPTIONS`) naming every problem of a send's options. */
export function checkSendOptions(options: SendOptions): void {
  const problems: string[] = [];
  if (options.route !== undefined && options.route !== 'topic' && options.route !== 'queue') {
    problems.push(`route is "${String(options.route)}", must be "topic" or "queue"`);
  }
  if (options.delaySeconds !== undefined) {
    const delay = options.delaySeconds;
    const max = AWS_LIMITS.sqs.maxDelaySeconds;
    if (!Number.isInteger(delay) || delay < 0 || delay > max) {
      problems.push(`delaySeconds is ${String(delay)}, must be an integer from 0 to ${max}`);
    }
    if (options.route === 'topic') problems.push('delaySeconds needs route "queue": SNS cannot delay one message');
    if (options.groupId !== undefined) {
      problems.push('delaySeconds cannot be combined with groupId: FIFO queues have no per-message delay');
    }
  }
  if (options.at !== undefined) {
    const at = options.at instanceof Date ? options.at : new Date(options.at);
    if (Number.isNaN(at.getTime())) problems.push(`at is "${String(options.at)}", must be a Date or an ISO 8601 time`);
    if (options.delaySeconds !== undefined) problems.push('give at or delaySeconds, not both');
    if (options.groupId !== undefined)
      problems.push('at cannot be combined with groupId: FIFO queues have no per-message delay');
  }
  if (options.groupId !== undefined) {
    if (!FIFO_ID.test(options.groupId)) {
      problems.push('groupId must be 1-128 printable ASCII characters without spaces');
    }
    if (options.route === 'topic') problems.push('groupId needs route "queue": tq publishes to a standard topic');
  }
  if (options.deduplicationId !== undefined) {
    if (options.groupId === undefined) problems.push('deduplicationId only applies with groupId (FIFO queues)');
    if (!FIFO_ID.test(options.deduplicationId)) {
      problems.push('deduplicationId must be 1-128 printable ASCII characters without spaces');
    }
  }
  if (problems.length > 0) throw new ProducerError('INVALID_OPTIONS', `invalid send options: ${problems.join('; ')}`);
}

/** A message's size as SQS and SNS count it: the body plus each attribute's name, type and value. */
export function byteSize(body: string, attributes: Record<string, MessageAttributeValue>): number {
  let bytes = Buffer.byteLength(body);
  for (const [name, value] of Object.entries(attributes)) {
    bytes +=
      Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}

/** The active OpenTelemetry span's context as W3C headers, when there is one. */
export function activeTraceContext(): TraceHeaders {
  const spanContext = trace.getSpanContext(otelContext.active());
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  const tracestate = spanContext.traceState?.serialize();
  return {
    traceparent: formatTraceparent(spanContext),
    ...(tracestate ? { tracestate } : {}),
  };
}

/**
 * Validates and encodes one task: its envelope, route (topic unless a delay or a FIFO group needs
 * the queue), body, routing attributes and size. Throws `TaskValidationError` or `ProducerError`
 * (`INVALID_OPTIONS`, `PAYLOAD_TOO_LARGE` over the transport's limit without claim checks, or over
 * the claim-check limit): nothing invalid or oversized gets further.
 */
export function prepareTask<TTask extends TaskName>(
  task: TTask,
  payload: TaskPayload<TTask>,
  sendOptions: SendOptions,
  context: {
    registry: TaskRegistry | undefined;
    claimChecks: boolean;
    trace: TraceHeaders;
    fifoTasks?: readonly string[] | undefined;
    /** A flow's task: its node (`FlowRef`) and the version its node names. */
    flow?: { ref: FlowRef; version?: number | undefined };
  },
): Prepared {
  checkSendOptions(sendOptions);
  const fifoTask = context.fifoTasks?.includes(task) || context.registry?.get(task)?.fifo === true;
  if (sendOptions.groupId === undefined && fifoTask) {
    // A standard topic cannot deliver to a FIFO queue: without a group the task would reach nothing.
    throw new ProducerError(
      'INVALID_OPTIONS',
      `invalid send options: ${task}'s queue is FIFO (TQ_FIFO_TASKS or its definition): give a groupId (\`tq send --group <id>\`)`,
    );
  }
  const taskOptions: CreateTaskOptions = {};
  if (sendOptions.id !== undefined) taskOptions.id = sendOptions.id;
  if (sendOptions.idempotencyKey !== undefined) taskOptions.idempotencyKey = sendOptions.idempotencyKey;
  if (sendOptions.traceparent !== undefined) {
    taskOptions.traceparent = sendOptions.traceparent;
    if (sendOptions.tracestate !== undefined) taskOptions.tracestate = sendOptions.tracestate;
  } else if (context.trace.traceparent !== undefined) {
    taskOptions.traceparent = context.trace.traceparent;
    if (context.trace.tracestate !== undefined) taskOptions.tracestate = context.trace.tracestate;
  }
  if (context.registry) taskOptions.registry = context.registry;
  if (context.flow !== undefined) {
    taskOptions.flow = context.flow.ref;
    if (context.flow.version !== undefined) taskOptions.version = context.flow.version;
  }
  const envelope = createTask(task, payload, taskOptions) as TaskEnvelope;
  const fifo = sendOptions.groupId !== undefined;
  const route =
    sendOptions.route ?? (sendOptions.delaySeconds !== undefined || fifo ? ('queue' as const) : ('topic' as const));
  const body = encodeMessageBody(envelope);
  const attributes: Record<string, MessageAttributeValue> = {
    [MESSAGE_ATTRIBUTES.task]: { DataType: 'String', StringValue: envelope.task },
    [MESSAGE_ATTRIBUTES.version]: { DataType: 'Number', StringValue: String(envelope.version) },
  };
  if (envelope.traceparent) attributes.traceparent = { DataType: 'String', StringValue: envelope.traceparent };
  const limit = route === 'topic' ? SNS_MAX_BYTES : SQS_MAX_BYTES;
  const bytes = byteSize(body, attributes);
  if (bytes > limit && !context.claimChecks) throw new PayloadTooLargeError(bytes, limit, route);
  if (bytes > MAX_CLAIM_CHECK_BYTES) throw new PayloadTooLargeError(bytes, MAX_CLAIM_CHECK_BYTES, 'claim-check');
  return { envelope, route, fifo, body, attributes, bytes, limit, options: sendOptions };
}

/** The FIFO fields of a queue send: the group, and the deduplication id (explicit, idempotency key, envelope id). */
export function fifoFields(prepared: Prepared): {
  MessageGroupId?: string | undefined;
  MessageDeduplicationId?: string;
} {
  if (!prepared.fifo) return {};
  const o = prepared.options;
  return {
    MessageGroupId: o.groupId,
    MessageDeduplicationId: o.deduplicationId ?? o.idempotencyKey ?? prepared.envelope.id,
  };
}

/** What a send reports for a task SQS or SNS accepted as `messageId`. */
export function sendResult(prepared: Prepared, messageId: string): SendResult {
  const sent: SendResult = { id: prepared.envelope.id, messageId, route: prepared.route };
  if (prepared.claimCheck) sent.claimCheck = prepared.claimCheck;
  return sent;
}
