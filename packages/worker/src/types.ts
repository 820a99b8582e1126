import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { S3AllowList } from '@tq/aws';
import type { TaskEnvelope, TaskName, TaskRegistry } from '@tq/contracts';
import type { FlowTaskSpec } from '@tq/producer-sdk';
import type { FlowTaskEntry, StatusStore } from '@tq/status';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RetryOptions } from './backoff.js';
import type { IdempotencyOptions } from './guard.js';
import type { WorkerMetrics } from './observability.js';

// The worker's public types: what users write (handlers), pass (options) and listen to (events).

/** What a handler gets besides its payload. */
export interface HandlerContext<TTask extends TaskName = TaskName> {
  /** The envelope id (for the seed's flat form: the SQS message id). Stable across redeliveries. */
  id: string;
  task: TTask;
  version: number;
  /** 1 on the first delivery; SQS's `ApproximateReceiveCount`. */
  attempt: number;
  /** The SQS message id. */
  messageId: string;
  /** The caller's idempotency key, when it set one. */
  idempotencyKey: string | undefined;
  /** The whole validated envelope. */
  envelope: TaskEnvelope<TTask>;
  /** Aborted when the handler times out or shutdown's grace period ends: stop and throw. */
  signal: AbortSignal;
  /** A child logger bound to this task (id, attempt, trace id). */
  logger: Logger;
  /** W3C trace context of this attempt's span, to pass on to work it starts. */
  traceparent: string | undefined;
  tracestate: string | undefined;
  /** The FIFO message group, on FIFO queues. */
  groupId: string | undefined;
  /** Set when the task is part of a flow (`producer.flow`, `tq flow send`). */
  flow: FlowContext | undefined;
  /**
   * Reports how far the task is, 0 to 1, with an optional note: shown by `tq status` and the
   * console. Call it as often as you like: the first report of a task is written at once, then at
   * most one a second (the latest). Recorded with status on; a no-op otherwise. Throws
   * `RangeError` outside 0 to 1.
   */
  progress(fraction: number, note?: string): void;
}

/** A flow task's place in its flow. */
export interface FlowContext {
  /** The flow's id. */
  id: string;
  /** This node's path: `$.chain[1]`, `$.group[3]`, `$.then`… */
  path: string;
  /**
   * The output of what preceded this task: the previous chain step's result, or (for a group's
   * `then`) the children's outputs in order; undefined for a flow's first tasks. A failed node let
   * through by its `onFailure` is `null` (`ignore`) or `{ error: { task, code, message } }` (`continue`).
   */
  input: unknown;
  /**
   * Adds tasks to the group this task belongs to (the nearest group above it), while it runs:
   * checked whole (`FlowValidationError`), counted in the group before they are sent, so what
   * follows the group waits for them too. They start without an input. Throws when the task is in
   * no group. Resolves with their paths and ids.
   */
  add(tasks: readonly FlowTaskSpec[]): Promise<FlowTaskEntry[]>;
}

/**
 * Handles one task. Resolve to acknowledge (the message is deleted); throw to retry with
 * backoff, `RetryLaterError` to retry after a given delay, `NonRetryableError` to dead-letter.
 * The resolved value is logged and reported in the `succeeded` event.
 */
export type TaskHandler<TTask extends TaskName> = (
  payload: TaskEnvelope<TTask>['payload'],
  context: HandlerContext<TTask>,
) => unknown;

/** What `createWorker` takes. Only `task` and `handler` are required. */
export interface WorkerOptions<TTask extends TaskName> {
  /** The task type this worker consumes. */
  task: TTask;
  handler: TaskHandler<TTask>;
  /** Versions the handler supports (default: every registered version); others are dead-lettered. */
  versions?: readonly number[];
  /** The task queue; default: `<prefix>-<task>` looked up by name. */
  queueUrl?: string;
  /** Where messages that can never succeed go; default: the queue's redrive policy target. */
  deadLetterQueueUrl?: string;
  /**
   * The queue's name, when it is not the task's own `<prefix>-<task>` (e.g. a copy queue
   * `<prefix>-<task>-activemq` of the ActiveMQ bridge). Ignored when `queueUrl` is given.
   */
  queueName?: string;
  /** Resource name prefix; defaults to `TQ_PREFIX`, then `tq`. */
  prefix?: string;
  /**
   * Consume the task's FIFO queue (`<prefix>-<task>.fifo`) instead of the standard one; default:
   * whether `TQ_FIFO_TASKS` lists the task. Ignored when `queueUrl` is given.
   */
  fifo?: boolean;
  /** Defaults to `AWS_REGION`, then `us-east-1`. */
  region?: string;
  /** Custom endpoint; defaults to `TQ_ENDPOINT` (unset: real AWS). */
  endpoint?: string;
  /** Injected clients (not destroyed by `stop()`). */
  sqs?: SQSClient;
  /** Used to fetch claim-checked payloads, and large results of flow tasks. */
  s3?: S3Client;
  /**
   * Sends a flow's next tasks to the topic; default: one like the injected `sqs` client (same
   * region, credentials and custom endpoint), else from the environment. Made only once a task
   * of a flow arrives.
   */
  sns?: SNSClient;
  /**
   * Buckets (`my-bucket`) and key prefixes (`my-bucket/some/prefix/`) the worker may read
   * claim-checked envelopes from; a pointer elsewhere is dead-lettered (`LOCATION_NOT_ALLOWED`)
   * before any S3 call. Default: `TQ_S3_ALLOW` (comma-separated), else the artifacts bucket.
   */
  s3Allow?: S3AllowList | readonly string[];
  registry?: TaskRegistry;
  /** Most messages held at once (running, or waiting behind their FIFO group). Default 10. */
  concurrency?: number;
  /** Messages asked for per receive, 1-10. Default 10. */
  batchSize?: number;
  /** Receive calls in flight at once. Default: enough to fill `concurrency` and `prefetch` (at most 10). */
  pollers?: number;
  /**
   * Messages received ahead of a free slot, held (their visibility extended by the heartbeat)
   * until a running task ends, so a freed slot starts its next task at once instead of after a
   * receive's round trip, and receives ask for whole batches. What Celery calls prefetching and
   * AMQP consumers a prefetch count. Worth it for short tasks with many in flight; each message
   * waiting here is invisible to other workers meanwhile, so keep it to a batch or two. Ignored
   * on FIFO queues (a message waiting here would block its group). Default 0 (`TQ_PREFETCH` in
   * the apps).
   */
  prefetch?: number;
  /** Long-poll wait, 0-20 s. Default 20. */
  waitTimeSeconds?: number;
  /**
   * Pause after a receive that came back empty before the next one, in ms (Camel's SQS `delay`):
   * fewer requests on a quiet queue, at the cost of that much latency for the next task.
   * Default 0 with long polling, 500 without.
   */
  emptyReceiveDelayMs?: number;
  /** Visibility timeout set at receive and renewed by the heartbeat, 1-43,200 s. Default 30. */
  visibilityTimeoutSeconds?: number;
  /** How often the heartbeat runs, in seconds; below the visibility timeout. Default: a third of it. */
  heartbeatIntervalSeconds?: number;
  /** Backoff between attempts of a failed task. */
  retry?: RetryOptions;
  /** A handler running longer is aborted and the attempt retried; 0 turns it off. Default 15 min. */
  handlerTimeoutMs?: number;
  /** On stop, how long running handlers get before their signal is aborted. Default 25 s. */
  shutdownGraceMs?: number;
  /**
   * How long an aborted handler (timeout, end of the shutdown grace) gets to end before its
   * message is left to come back after its visibility timeout; never released or retried while
   * the handler may still run. Default 5 s: `stop()` returns within `shutdownGraceMs` + this.
   */
  abortWaitMs?: number;
  /** Backoff of failed receive calls (outages). Default base 250 ms, cap 20 s. */
  receiveBackoff?: { baseMs?: number; capMs?: number };
  /** A pino logger; default: JSON to stdout at `LOG_LEVEL` (default `info`). */
  logger?: Logger;
  /** Serve `/healthz`, `/readyz` and `/metrics` here; default off. Host defaults to 127.0.0.1. */
  http?: { port: number; host?: string } | false;
  /** Prometheus registry to register metrics in; default: the worker's own. */
  metricsRegistry?: Registry;
  /**
   * Record each task's steps (received, running, succeeded with its result, retrying,
   * dead-lettered) in the status table (`@tq/status`), readable by id with `tq status <id>`.
   * `true` builds the store from the environment (`TQ_DYNAMODB_ENDPOINT` or `TQ_ENDPOINT`,
   * `TQ_STATUS_TABLE` or `<prefix>-task-status`); a `StatusStore` is used as given. Writes are
   * coalesced, off the message's path, and never fail a task: while the store is unreachable the
   * worker logs it once and counts `tq_status_write_failures_total`. Default false.
   */
  status?: boolean | StatusStore;
  /**
   * Run the handler's effect once per task, however often SQS delivers it: before the handler, the
   * task's key (its `idempotencyKey`, else its id) is claimed in the idempotency table with a
   * conditional put and a lease, renewed while the handler runs; after success the key is marked
   * done with the handler's result. A later delivery of a done task is acknowledged without
   * running the handler (the `succeeded` event carries the stored result and `duplicate: true`);
   * one that finds another worker's live lease is retried when the lease runs out; one whose
   * holder crashed takes over once its lease expired; a failed handler gives the claim up so the
   * retry runs. A key reused for a different payload is dead-lettered (`IDEMPOTENCY_KEY_REUSED`).
   * `true` builds the store from the environment. Default false.
   */
  idempotency?: boolean | IdempotencyOptions;
  /**
   * An extra readiness condition, ANDed with the worker's own for `ready` and `/readyz`: e.g.
   * the HTTP relay's endpoint accepting connections. While it is false the worker takes no new
   * messages (those it holds run on); it looks again every half second. Must be cheap.
   */
  readiness?: () => boolean;
  /** Stop on SIGTERM and SIGINT (a second signal aborts running handlers). Default true. */
  handleSignals?: boolean;
}

/** Data of the worker's events. */
export interface WorkerEvents {
  started: [{ queueUrl: string; deadLetterQueueUrl: string; maxReceiveCount: number | undefined }];
  received: [{ messageId: string; attempt: number }];
  succeeded: [
    {
      id: string;
      messageId: string;
      attempt: number;
      durationMs: number;
      result: unknown;
      /** The idempotency guard found the task done: the handler did not run; `result` is the stored one. */
      duplicate?: boolean;
    },
  ];
  retrying: [{ id: string | undefined; messageId: string; attempt: number; delaySeconds: number; error: unknown }];
  'dead-lettered': [
    { id: string | undefined; messageId: string; attempt: number; code: string; reason: string; error?: unknown },
  ];
  /** A task (or its flow) was cancelled: settled without running, or its running handler aborted (`ran`). */
  cancelled: [{ id: string; messageId: string; attempt: number; ran: boolean }];
  /** A message handed back untouched (shutdown) for another worker to take. */
  released: [{ messageId: string; reason: 'shutdown' }];
  'receive-error': [{ error: unknown; consecutive: number; retryInMs: number }];
  'receive-recovered': [{ failures: number; outageMs: number }];
  stopped: [];
}

/** Where a worker is in its life. */
export type WorkerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** A worker for one task type. */
export interface Worker<TTask extends TaskName = TaskName> {
  readonly task: TTask;
  readonly state: WorkerState;
  /** Running and the last receive succeeded (what `/readyz` reports). */
  readonly ready: boolean;
  /** Messages held right now. */
  readonly inFlight: number;
  readonly metrics: WorkerMetrics;
  /** The health server's address once started with `http`. */
  readonly http: { port: number; host: string } | undefined;
  /**
   * Resolves the queues and starts polling. Throws `WorkerError` (`QUEUE_NOT_FOUND`,
   * `NO_DEAD_LETTER_QUEUE`, `ALREADY_STARTED`) or the AWS error when they cannot be resolved.
   */
  start(): Promise<void>;
  /**
   * Stops receiving at once, lets running handlers finish within `shutdownGraceMs` (then
   * aborts them), returns messages it had not started to the queue, flushes acknowledgements
   * and closes the health server. Safe to call more than once.
   */
  stop(): Promise<void>;
  on<E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
  once<E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
  off<E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * What an app's `createXxxWorker(deps)` takes besides its own settings: its S3 client, where its
 * tasks may read and write, and the worker runtime's options. The built-in apps' deps extend it;
 * so can a team's own.
 */
export interface WorkerAppDeps<TTask extends TaskName> {
  /** Reads the task's inputs and writes its outputs. */
  s3: S3Client;
  /** Where tasks may read and write in S3; default `TQ_S3_ALLOW`, else the artifacts bucket. */
  s3Allow?: S3AllowList | readonly string[];
  /** Worker runtime options (queue, concurrency, logger, http, ...). */
  worker?: Omit<WorkerOptions<TTask>, 'task' | 'handler'>;
}
