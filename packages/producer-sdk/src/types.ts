import type { S3Client } from '@aws-sdk/client-s3';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FlowFailurePolicy, TaskName, TaskPayload, TaskRegistry, TaskValidationError } from '@tq/contracts';
import type { CancelRequest, FlowRecord, FlowTaskEntry, StatusStore, TaskStatus } from '@tq/status';
import type { ProducerError } from './errors.js';

// The producer's public types: its options, what a send takes and what it answers.

/** What `createProducer` takes. Everything defaults from the environment. */
export interface ProducerOptions {
  /** Defaults to `AWS_REGION`, then `us-east-1`. */
  region?: string;
  /** Custom endpoint; defaults to `TQ_ENDPOINT` (unset: real AWS). */
  endpoint?: string;
  /** Resource name prefix; defaults to `TQ_PREFIX`, then `tq`. */
  prefix?: string;
  /** The topic to publish to, instead of looking up `<prefix>-tasks` (`sns:ListTopics`). Default: `TQ_TOPIC_ARN`, as a deployment sets it. */
  topicArn?: string;
  /** Queue URLs by task (`send_email`, or `send_email.fifo` for the FIFO variant), instead of lookups. */
  queueUrls?: Partial<Record<string, string>>;
  /** Injected clients (their own configuration wins over region/endpoint). */
  sqs?: SQSClient;
  sns?: SNSClient;
  s3?: S3Client;
  /** Task types to validate against (default: the built-in registry). */
  registry?: TaskRegistry;
  /**
   * Claim check: tasks over the transport's size limit are stored in this bucket (under
   * `tq/claim-checks/`) and a small pointer is sent instead; the worker runtime fetches them.
   * Without it, such tasks throw `PayloadTooLargeError`.
   */
  largePayloads?: { bucket: string };
  /**
   * Task types whose queues are FIFO (default: `TQ_FIFO_TASKS`). Sending one without a `groupId`
   * throws `INVALID_OPTIONS`: the topic cannot deliver to a FIFO queue, so the task would reach nothing.
   */
  fifoTasks?: readonly string[];
  /**
   * Record `sent` in the task status table for every task sent (`@tq/status`), so a task shows up
   * by id before a worker received it. `true` builds the store from the environment; a
   * `StatusStore` is used as given. Writes are buffered and never fail a send. Default false;
   * `status(id)` reads either way.
   */
  status?: boolean | StatusStore;
  /** Batch calls `sendBatch` runs at once. Default 8. */
  batchConcurrency?: number;
  /** Attempts per batch entry that failed transiently (throttling, network, server faults). Default 4. */
  batchAttempts?: number;
  /** For `send(..., { at })` beyond 15 minutes; default: one for `TQ_SCHEDULER_ENDPOINT`, else the endpoint. */
  scheduler?: SchedulerClient;
}

/** Per-send options. */
export interface SendOptions {
  /** `topic` (default): SNS fan-out; `queue`: straight to the task's queue. */
  route?: 'topic' | 'queue';
  /** Per-message delay, 0-900 s. Only SQS can delay one message, so this sends to the queue. */
  delaySeconds?: number;
  /**
   * Deliver at this time instead of now. Within SQS's 15 minutes it is a `delaySeconds` send to
   * the queue; beyond, a one-time EventBridge Scheduler schedule (`once-<id>` in the group
   * `TQ_SCHEDULE_GROUP`, default the prefix; deleted after it fires) publishes the envelope to the
   * topic then. On AWS that needs `TQ_SCHEDULER_ROLE_ARN` (the role the scheduler publishes
   * with; `TqTopology.environment()` sets it); locally `tq up`'s endpoint runs it. A time in the
   * past sends now.
   */
  at?: Date | string;
  /**
   * FIFO message group: sends to the task's FIFO queue (`<prefix>-<task>.fifo`), where tasks of
   * one group are handled one at a time, in order.
   */
  groupId?: string;
  /** FIFO deduplication id; defaults to `idempotencyKey`, then the envelope id. */
  deduplicationId?: string;
  /** Caller-chosen key, carried in the envelope for the worker to recognise duplicates. */
  idempotencyKey?: string;
  /** W3C trace context to continue in the worker; defaults to the active OpenTelemetry span's. */
  traceparent?: string;
  tracestate?: string;
  /** Use this envelope id instead of a random UUID. */
  id?: string;
}

/** Where a task went. */
export interface SendResult {
  /** The envelope id: what the worker sees as `context.id`. */
  id: string;
  /** SNS or SQS message id. */
  messageId: string;
  /** `schedule`: held by a one-time schedule until `at`. */
  route: 'topic' | 'queue' | 'schedule';
  /** With `at` beyond 15 minutes: when it will be sent (ISO 8601). */
  scheduledFor?: string;
  /** `s3://` URI of the stored envelope when the task went by claim check. */
  claimCheck?: string;
}

/** One task of a `sendBatch` call. */
export type BatchItem = {
  [TTask in TaskName]: { task: TTask; payload: TaskPayload<TTask>; options?: SendOptions };
}[TaskName];

/** The outcome of one `sendBatch` item, in input order. */
export type BatchItemResult = ({ ok: true } & SendResult) | { ok: false; error: TaskValidationError | ProducerError };

/** One task of a flow, typed by its task type (`FlowTask` of `@tq/contracts` is its JSON form). */
export type FlowTaskSpec = {
  [TTask in TaskName]: {
    task: TTask;
    payload: TaskPayload<TTask>;
    /** Default: the task's latest version. */
    version?: number;
    idempotencyKey?: string;
    onFailure?: FlowFailurePolicy;
  };
}[TaskName];

/**
 * A flow: a task, a `chain` (one after another, each getting the previous output as input), or a
 * `group` (in parallel), with `then` a chord (runs once after every child ended, with their
 * outputs). The same shape as the JSON that `tq flow send` takes.
 */
export type FlowSpec =
  | FlowTaskSpec
  | { chain: FlowSpec[]; onFailure?: FlowFailurePolicy }
  | { group: FlowSpec[]; then?: FlowSpec; onFailure?: FlowFailurePolicy };

/** A flow that started: its id, and every task's path, type and id. */
export interface FlowStarted {
  id: string;
  tasks: FlowTaskEntry[];
}

/** Sends tasks. Create one per process and share it; it caches resolved URLs and ARNs. */
export interface Producer {
  /**
   * Validates and sends one task. Throws `TaskValidationError` for an invalid payload and
   * `ProducerError` (`INVALID_OPTIONS`, `PAYLOAD_TOO_LARGE`, not found, throttled, credentials,
   * other AWS failures) otherwise; when it throws, the task was not sent.
   */
  send<TTask extends TaskName>(task: TTask, payload: TaskPayload<TTask>, options?: SendOptions): Promise<SendResult>;
  /**
   * Validates and sends any number of tasks in as few batch calls as the limits allow (10
   * entries and 1 MiB per SQS batch, 256 KiB per SNS batch), several calls at once, retrying
   * only the entries that failed transiently. Never throws for one item: returns one result
   * per item, in input order, `ok: false` with the typed error for items not sent.
   */
  sendBatch(items: readonly BatchItem[]): Promise<BatchItemResult[]>;
  /**
   * Starts a flow (see `FlowSpec`). The whole flow is checked first: `FlowValidationError` lists
   * every invalid node with its path (`$.group[3].payload.to`) and nothing is sent. Its state
   * lives in the status table (`StatusNotTrackedError` when there is none); its first tasks are
   * sent at once, the others when what precedes them completes. Resolves with the flow's id.
   */
  flow(flow: FlowSpec, options?: { id?: string }): Promise<FlowStarted>;
  /**
   * Cancels a task or a whole flow by id, from any process: a worker that holds or receives one
   * of its messages settles it `cancelled` without running it (not retried, not dead-lettered), and
   * one running it aborts the handler's `context.signal`, within its heartbeat interval. A cancelled
   * flow starts nothing more; one that had ended is left as it is (`ended` says how it ended).
   * Needs the status table, as workers see it there (with status on).
   */
  cancel(
    id: string,
    options?: { reason?: string },
  ): Promise<CancelRequest & { kind: 'task' | 'flow'; ended?: FlowRecord['state'] }>;
  /** A flow's record (state, when it finished, what failed it), or undefined when there is none. */
  flowStatus(id: string): Promise<FlowRecord | undefined>;
  /**
   * What the status table knows about a task (`@tq/status`): state, attempts, timeline, result,
   * artifacts or error; undefined when nothing was recorded. Throws `StatusNotTrackedError` when
   * the table does not exist.
   */
  status(id: string): Promise<TaskStatus | undefined>;
  /** Writes the `sent` records still buffered (with `status: true`). */
  flush(): Promise<void>;
  /** Writes what is buffered, then releases the clients this producer created (not injected ones). */
  close(): Promise<void>;
}
