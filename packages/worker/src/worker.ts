import { EventEmitter, setMaxListeners } from 'node:events';
import { S3Client } from '@aws-sdk/client-s3';
import {
  type BatchResultErrorEntry,
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { classifyAwsError, type S3AllowList } from '@tq/aws';
import {
  awsClientSettings,
  registry as builtinRegistry,
  FAILURE_ATTRIBUTES,
  queueName,
  readEnvironment,
  type TaskEnvelope,
  type TaskName,
  type TaskRegistry,
} from '@tq/contracts';
import { type Logger, pino } from 'pino';
import type { Registry } from 'prom-client';
import { backoffMs, type RetryOptions, retryDelaySeconds } from './backoff.js';
import { Batcher, type EntryFailure } from './batcher.js';
import { createOwnedSqsClients } from './clients.js';
import { decodeMessage } from './decode.js';
import { WorkerError } from './errors.js';
import {
  createWorkerMetrics,
  type HealthServer,
  onCollect,
  startHealthServer,
  type WorkerMetrics,
} from './observability.js';
import { type AttemptOutcome, decide, outcomeOfError } from './policy.js';
import { resolveS3Allow } from './s3.js';
import { withMessageSpan } from './trace.js';

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
  /** Resource name prefix; defaults to `TQ_PREFIX`, then `tq`. */
  prefix?: string;
  /** Defaults to `AWS_REGION`, then `us-east-1`. */
  region?: string;
  /** Custom endpoint; defaults to `TQ_ENDPOINT` (unset: real AWS). */
  endpoint?: string;
  /** Injected clients (not destroyed by `stop()`). */
  sqs?: SQSClient;
  /** Used to fetch claim-checked payloads. */
  s3?: S3Client;
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
  /** Receive calls in flight at once. Default: enough to fill `concurrency` (at most 10). */
  pollers?: number;
  /** Long-poll wait, 0-20 s. Default 20. */
  waitTimeSeconds?: number;
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
  /** Stop on SIGTERM and SIGINT (a second signal aborts running handlers). Default true. */
  handleSignals?: boolean;
}

/** Data of the worker's events. */
export interface WorkerEvents {
  started: [{ queueUrl: string; deadLetterQueueUrl: string; maxReceiveCount: number | undefined }];
  received: [{ messageId: string; attempt: number }];
  succeeded: [{ id: string; messageId: string; attempt: number; durationMs: number; result: unknown }];
  retrying: [{ id: string | undefined; messageId: string; attempt: number; delaySeconds: number; error: unknown }];
  'dead-lettered': [
    { id: string | undefined; messageId: string; attempt: number; code: string; reason: string; error?: unknown },
  ];
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

type RecordState = 'waiting' | 'running' | 'settling' | 'abandoned' | 'done';

interface Held {
  message: Message;
  messageId: string;
  receiptHandle: string;
  attempt: number;
  groupId: string | undefined;
  state: RecordState;
  visibleUntil: number;
  /** The heartbeat call in flight for this message, which an acknowledgement must wait for. */
  heartbeat: Promise<void> | undefined;
  /** The run of a message outside a FIFO group, while it lasts (what shutdown waits for). */
  work: Promise<unknown> | undefined;
}

const noop = () => undefined;

/**
 * A handler that is running: what its timeout and shutdown need to abort it. Its AbortSignal
 * is made only when the handler reads `context.signal` (making one costs more than a no-op
 * task), already aborted if the attempt was.
 */
class RunningHandler {
  /** When the handler timeout aborts it (ms since the epoch); Infinity without a timeout. */
  readonly deadline: number;
  aborted = false;
  reason: unknown;
  #controller: AbortController | undefined;
  /** Rejects the attempt at once with the abort reason (the handler may still be winding down). */
  #reject: (reason: unknown) => void = noop;
  /** The handler's own promise, when it returned one: what "the handler has really ended" waits for. */
  #pending: PromiseLike<unknown> | undefined;

  constructor(deadline: number) {
    this.deadline = deadline;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  /** Calls the handler; the promise settles with its result, or at once with the reason of an abort. */
  run(call: () => unknown): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.#reject = reject;
      let value: unknown;
      try {
        value = call();
      } catch (error) {
        reject(error);
        return;
      }
      if (isThenable(value)) {
        this.#pending = value;
        value.then(resolve, reject);
      } else resolve(value);
    });
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.#reject(reason);
  }

  /** Resolves true once the handler itself has ended (resolved or thrown), false if it still runs after `waitMs`. */
  async ended(waitMs: number): Promise<boolean> {
    if (this.#pending === undefined) return true;
    const end = Promise.resolve(this.#pending).then(
      () => true,
      () => true,
    );
    if (waitMs === Number.POSITIVE_INFINITY) return end;
    const gaveUp = new AbortController();
    const result = await Promise.race([end, sleep(waitMs, gaveUp.signal).then(() => false)]);
    gaveUp.abort();
    return result;
  }
}

/**
 * What became of a message: `abandoned` when its handler was aborted but went on running past
 * `abortWaitMs`: the message is then left alone to come back after its visibility timeout.
 */
type Outcome = 'succeeded' | 'retried' | 'dead-lettered' | 'released' | 'abandoned';

/**
 * A message's child logger, made on first use: most messages succeed, and with info logs off
 * nothing needs one.
 */
class MessageLog {
  readonly #parent: Logger;
  readonly #messageId: string;
  readonly #attempt: number;
  #task: Record<string, unknown> | undefined;
  #logger: Logger | undefined;

  constructor(parent: Logger, messageId: string, attempt: number) {
    this.#parent = parent;
    this.#messageId = messageId;
    this.#attempt = attempt;
  }

  get(): Logger {
    this.#logger ??= this.#parent.child({ messageId: this.#messageId, attempt: this.#attempt, ...this.#task });
    return this.#logger;
  }

  /** Adds the task's bindings (id, trace id), once: pino's setBindings appends rather than replaces. */
  bind(bindings: Record<string, unknown>): void {
    if (this.#task !== undefined) return;
    this.#task = bindings;
    this.#logger?.setBindings(bindings);
  }
}

/** What a handler gets: the logger and the signal are made when first read. */
class Context<TTask extends TaskName> implements HandlerContext<TTask> {
  readonly id: string;
  readonly task: TTask;
  readonly version: number;
  readonly attempt: number;
  readonly messageId: string;
  readonly idempotencyKey: string | undefined;
  readonly envelope: TaskEnvelope<TTask>;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  readonly groupId: string | undefined;
  readonly #running: RunningHandler;
  readonly #log: MessageLog;

  constructor(
    task: TTask,
    held: Held,
    envelope: TaskEnvelope<TTask>,
    running: RunningHandler,
    traceparent: string | undefined,
    log: MessageLog,
  ) {
    this.id = envelope.id;
    this.task = task;
    this.version = envelope.version;
    this.attempt = held.attempt;
    this.messageId = held.messageId;
    this.idempotencyKey = envelope.idempotencyKey;
    this.envelope = envelope;
    this.traceparent = traceparent;
    this.tracestate = envelope.tracestate;
    this.groupId = held.message.Attributes?.MessageGroupId;
    this.#running = running;
    this.#log = log;
  }

  get signal(): AbortSignal {
    return this.#running.signal;
  }

  get logger(): Logger {
    return this.#log.get();
  }
}

interface VisibilityChange {
  receiptHandle: string;
  seconds: number;
}

const SYSTEM_ATTRIBUTES = [
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SentTimestamp',
  'MessageGroupId',
] as const;

/** SQS allows 10 message attributes; the reason attributes take this many. */
const REASON_ATTRIBUTE_COUNT = Object.keys(FAILURE_ATTRIBUTES).length;
const MAX_REASON_LENGTH = 1024;
/** How long stop() lets receives already answering deliver before aborting the rest. */
const RECEIVE_LANDING_MS = 300;
/** A second stop signal aborts running handlers only when it comes at least this long after the first. */
const SIGNAL_REPEAT_MS = 1000;

function checkRange(problems: string[], name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < min || value > max) {
    problems.push(`${name} is ${String(value)}, must be from ${min} to ${max}`);
  }
}

function checkOptions<TTask extends TaskName>(options: WorkerOptions<TTask>, registry: TaskRegistry): void {
  const problems: string[] = [];
  if (typeof options.handler !== 'function') problems.push('handler must be a function');
  const definition = registry.get(options.task);
  if (!definition) problems.push(`unknown task "${options.task}" (known: ${registry.names().join(', ')})`);
  for (const version of options.versions ?? []) {
    if (definition && !definition.versions[version]) problems.push(`task "${options.task}" has no version ${version}`);
  }
  checkRange(problems, 'concurrency', options.concurrency, 1, 10_000);
  checkRange(problems, 'batchSize', options.batchSize, 1, 10);
  checkRange(problems, 'pollers', options.pollers, 1, 100);
  checkRange(problems, 'waitTimeSeconds', options.waitTimeSeconds, 0, 20);
  checkRange(problems, 'visibilityTimeoutSeconds', options.visibilityTimeoutSeconds, 1, 43_200);
  checkRange(problems, 'handlerTimeoutMs', options.handlerTimeoutMs, 0, 43_200_000);
  checkRange(problems, 'shutdownGraceMs', options.shutdownGraceMs, 0, 3_600_000);
  checkRange(problems, 'abortWaitMs', options.abortWaitMs, 0, 600_000);
  checkRange(problems, 'retry.baseSeconds', options.retry?.baseSeconds, 0, 43_200);
  checkRange(problems, 'retry.capSeconds', options.retry?.capSeconds, 0, 43_200);
  const visibility = options.visibilityTimeoutSeconds ?? 30;
  if (options.heartbeatIntervalSeconds !== undefined) {
    checkRange(problems, 'heartbeatIntervalSeconds', options.heartbeatIntervalSeconds, 0.1, visibility - 0.1);
  }
  for (const field of ['concurrency', 'batchSize', 'pollers', 'waitTimeSeconds', 'visibilityTimeoutSeconds'] as const) {
    const value = options[field];
    if (value !== undefined && !Number.isInteger(value)) problems.push(`${field} must be an integer`);
  }
  if (problems.length > 0) {
    throw new WorkerError('INVALID_OPTIONS', `invalid worker options: ${problems.join('; ')}`);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

function isAbort(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'AbortError';
}

function batchFailures(failed: BatchResultErrorEntry[] | undefined): Map<string, EntryFailure> {
  const failures = new Map<string, EntryFailure>();
  for (const entry of failed ?? []) {
    if (!entry.Id) continue;
    failures.set(entry.Id, {
      code: entry.Code ?? 'Unknown',
      message: entry.Message ?? '',
      // A handle that expired can never be fixed by retrying, whatever SQS says.
      senderFault: entry.SenderFault === true || /ReceiptHandle/i.test(entry.Code ?? ''),
    });
  }
  return failures;
}

/**
 * Creates a worker for one task type. It receives only as many messages as it has free
 * slots, runs each as soon as it arrives, keeps them invisible with one heartbeat timer,
 * batches deletes and visibility changes, retries failures with backoff through SQS's own
 * receive count, and dead-letters what can never succeed with the reason attached.
 *
 * Throws `WorkerError` (`INVALID_OPTIONS`) when an option is out of range.
 */
export function createWorker<TTask extends TaskName>(options: WorkerOptions<TTask>): Worker<TTask> {
  const registry = options.registry ?? builtinRegistry;
  checkOptions(options, registry);
  return new TqWorker(options, registry);
}

class TqWorker<TTask extends TaskName> extends EventEmitter implements Worker<TTask> {
  readonly task: TTask;
  readonly metrics: WorkerMetrics;
  #state: WorkerState = 'idle';
  readonly #options: WorkerOptions<TTask>;
  readonly #registry: TaskRegistry;
  readonly #prefix: string;
  readonly #m: {
    received: { inc(value?: number): void };
    succeeded: { inc(value?: number): void };
    failed: { inc(): void };
    retried: { inc(): void };
    inFlight: { set(value: number): void };
    receiveErrors: { inc(): void };
    duration: Record<'succeeded' | 'failed' | 'aborted' | 'dead-lettered', { observe(value: number): void }>;
  };
  readonly #logger: Logger;
  readonly #sqs: SQSClient;
  /** The client receives go through: the injected one, or one of the worker's own. */
  readonly #receiver: SQSClient;
  /** Per-call options of receives: the poll-abort signal, unless the receiver carries it itself. */
  readonly #receiveOptions: { abortSignal: AbortSignal } | undefined;
  readonly #s3: S3Client;
  readonly #owned: { destroy(): void }[] = [];
  readonly #concurrency: number;
  readonly #batchSize: number;
  readonly #pollers: number;
  readonly #waitTime: number;
  readonly #visibility: number;
  readonly #heartbeatMs: number;
  readonly #handlerTimeoutMs: number;
  readonly #graceMs: number;
  readonly #abortWaitMs: number;
  readonly #s3Allow: S3AllowList;
  readonly #versions: ReadonlySet<number>;
  readonly #held = new Set<Held>();
  readonly #running = new Set<Promise<unknown>>();
  /** Running handlers in start order, which with one timeout for all is also deadline order. */
  readonly #handlers = new Set<RunningHandler>();
  #timeoutTimer: NodeJS.Timeout | undefined;
  readonly #polls = new Set<Promise<void>>();
  readonly #groups = new Map<string, Held[]>();
  readonly #pollAbort = new AbortController();
  readonly #shutdownAbort = new AbortController();
  readonly #deletes: Batcher<string>;
  readonly #visibilityChanges: Batcher<VisibilityChange>;
  #queueUrl = '';
  #fifo = false;
  #dlqUrl = '';
  #maxReceiveCount: number | undefined;
  #activePolls = 0;
  #requested = 0;
  #receiveFailures = 0;
  #outageSince = 0;
  #receiveBlockedUntil = 0;
  #pollsOverAt = 0;
  #wakeTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #health: HealthServer | undefined;
  #stopping: Promise<void> | undefined;
  #signalHandler: ((signal: NodeJS.Signals) => void) | undefined;
  /** Per-message counts not yet published to the metrics (published on every read of them). */
  readonly #counts = { received: 0, succeeded: 0 };
  readonly #stopCollecting: (() => void)[] = [];

  constructor(options: WorkerOptions<TTask>, registry: TaskRegistry) {
    super();
    this.task = options.task;
    this.#options = options;
    this.#registry = registry;
    const env = readEnvironment();
    const settings = awsClientSettings({
      ...env,
      ...(options.region ? { region: options.region } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    });
    if (options.sqs) {
      // An injected client is used as it is: receives pass the abort signal per call.
      this.#sqs = options.sqs;
      this.#receiver = options.sqs;
      this.#receiveOptions = { abortSignal: this.#pollAbort.signal };
    } else {
      const clients = createOwnedSqsClients(settings, this.#pollAbort.signal);
      this.#sqs = clients.sqs;
      this.#receiver = clients.receiver;
      this.#receiveOptions = undefined;
      this.#owned.push(clients.sqs, clients.receiver);
    }
    this.#s3 = options.s3 ?? new S3Client(settings);
    if (!options.s3) this.#owned.push(this.#s3);
    this.#queueUrl = options.queueUrl ?? '';
    this.#dlqUrl = options.deadLetterQueueUrl ?? '';
    this.#concurrency = options.concurrency ?? 10;
    this.#batchSize = Math.min(options.batchSize ?? 10, this.#concurrency);
    this.#pollers = options.pollers ?? Math.min(10, Math.max(1, Math.ceil(this.#concurrency / this.#batchSize)));
    this.#waitTime = options.waitTimeSeconds ?? 20;
    this.#visibility = options.visibilityTimeoutSeconds ?? 30;
    this.#heartbeatMs = (options.heartbeatIntervalSeconds ?? this.#visibility / 3) * 1000;
    this.#handlerTimeoutMs = options.handlerTimeoutMs ?? 15 * 60_000;
    this.#graceMs = options.shutdownGraceMs ?? 25_000;
    this.#abortWaitMs = options.abortWaitMs ?? 5_000;
    this.#s3Allow = resolveS3Allow(options.s3Allow, { prefix: options.prefix });
    const definition = registry.get(options.task);
    this.#versions = new Set(options.versions ?? Object.keys(definition?.versions ?? {}).map(Number));
    // Claim-check downloads listen on the shutdown signal; there are up to `concurrency` of them.
    setMaxListeners(this.#concurrency + 16, this.#shutdownAbort.signal);
    this.#logger = (options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' })).child({ task: options.task });
    this.metrics = createWorkerMetrics(options.metricsRegistry);
    const task = { task: options.task };
    // Label sets bound once (prom-client still hashes them on each update).
    this.#m = {
      received: this.metrics.received.labels(task),
      succeeded: this.metrics.succeeded.labels(task),
      failed: this.metrics.failed.labels(task),
      retried: this.metrics.retried.labels(task),
      inFlight: this.metrics.inFlight.labels(task),
      receiveErrors: this.metrics.receiveErrors.labels(task),
      duration: {
        succeeded: this.metrics.duration.labels({ ...task, outcome: 'succeeded' }),
        failed: this.metrics.duration.labels({ ...task, outcome: 'failed' }),
        aborted: this.metrics.duration.labels({ ...task, outcome: 'aborted' }),
        'dead-lettered': this.metrics.duration.labels({ ...task, outcome: 'dead-lettered' }),
      },
    };
    this.#prefix = options.prefix ?? env.prefix;
    const publish = () => this.#publishCounts();
    this.#stopCollecting.push(
      onCollect(this.metrics.received, publish),
      onCollect(this.metrics.succeeded, publish),
      onCollect(this.metrics.inFlight, publish),
    );

    this.#deletes = new Batcher<string>({
      send: async (entries) => {
        const out = await this.#sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.#queueUrl,
            Entries: entries.map(({ id, item }) => ({ Id: id, ReceiptHandle: item })),
          }),
        );
        return batchFailures(out.Failed);
      },
    });
    this.#visibilityChanges = new Batcher<VisibilityChange>({
      send: async (entries) => {
        const out = await this.#sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.#queueUrl,
            Entries: entries.map(({ id, item }) => ({
              Id: id,
              ReceiptHandle: item.receiptHandle,
              VisibilityTimeout: item.seconds,
            })),
          }),
        );
        return batchFailures(out.Failed);
      },
    });
  }

  /** Publishes the per-message counts and the in-flight gauge (called when the metrics are read). */
  #publishCounts(): void {
    if (this.#counts.received > 0) this.#m.received.inc(this.#counts.received);
    if (this.#counts.succeeded > 0) this.#m.succeeded.inc(this.#counts.succeeded);
    this.#counts.received = 0;
    this.#counts.succeeded = 0;
    this.#m.inFlight.set(this.#held.size);
  }

  get state(): WorkerState {
    return this.#state;
  }

  get ready(): boolean {
    return this.#state === 'running' && this.#receiveFailures === 0;
  }

  get inFlight(): number {
    return this.#held.size;
  }

  get http(): { port: number; host: string } | undefined {
    return this.#health ? { port: this.#health.port, host: this.#health.host } : undefined;
  }

  async start(): Promise<void> {
    if (this.#state !== 'idle') {
      throw new WorkerError('ALREADY_STARTED', `worker for ${this.task} was already started (state ${this.#state})`);
    }
    this.#state = 'starting';
    try {
      await this.#resolveQueues();
      this.#fifo = this.#queueUrl.endsWith('.fifo');
      if (this.#options.http) {
        this.#health = await startHealthServer(
          { live: () => this.#state !== 'stopped', ready: () => this.ready },
          this.metrics.registry,
          { port: this.#options.http.port, host: this.#options.http.host ?? '127.0.0.1' },
        );
      }
    } catch (error) {
      this.#state = 'stopped';
      this.#closeResources();
      throw error;
    }
    if (this.#options.handleSignals !== false) {
      let firstSignalAt = 0;
      this.#signalHandler = (signal) => {
        if (firstSignalAt === 0) {
          firstSignalAt = Date.now();
          this.#logger.info({ signal }, 'signal received: stopping (send it again to abort running tasks)');
          void this.stop();
        } else if (Date.now() - firstSignalAt >= SIGNAL_REPEAT_MS) {
          this.#logger.warn({ signal }, 'second signal: aborting running tasks');
          this.#abortRunning(new Error(`aborted by ${signal}`));
        }
        // A signal right after the first is the same request arriving twice (Ctrl-C reaches the
        // whole process group while a supervisor forwards SIGTERM), not a second request.
      };
      process.on('SIGTERM', this.#signalHandler);
      process.on('SIGINT', this.#signalHandler);
    }
    this.#state = 'running';
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), this.#heartbeatMs);
    this.#logger.info(
      {
        queueUrl: this.#queueUrl,
        deadLetterQueueUrl: this.#dlqUrl,
        concurrency: this.#concurrency,
        pollers: this.#pollers,
        ...(this.#health ? { http: `http://${this.#health.host}:${this.#health.port}` } : {}),
      },
      'worker started',
    );
    this.emit('started', {
      queueUrl: this.#queueUrl,
      deadLetterQueueUrl: this.#dlqUrl,
      maxReceiveCount: this.#maxReceiveCount,
    });
    this.#pump();
  }

  async #resolveQueues(): Promise<void> {
    if (!this.#queueUrl) {
      const name = queueName(this.#prefix, this.task);
      try {
        const out = await this.#sqs.send(new GetQueueUrlCommand({ QueueName: name }));
        this.#queueUrl = out.QueueUrl ?? '';
      } catch (error) {
        if (classifyAwsError(error) === 'not-found') {
          throw new WorkerError('QUEUE_NOT_FOUND', `queue ${name} does not exist: run \`tq provision\``, {
            cause: error,
          });
        }
        throw error;
      }
    }
    const attributes = await this.#sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.#queueUrl, AttributeNames: ['RedrivePolicy'] }),
    );
    const policy = attributes.Attributes?.RedrivePolicy;
    if (policy) {
      const parsed = JSON.parse(policy) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
      this.#maxReceiveCount = parsed.maxReceiveCount === undefined ? undefined : Number(parsed.maxReceiveCount);
      if (!this.#dlqUrl && parsed.deadLetterTargetArn) {
        const [, , , , account, name] = parsed.deadLetterTargetArn.split(':');
        const out = await this.#sqs.send(
          new GetQueueUrlCommand({ QueueName: name, ...(account ? { QueueOwnerAWSAccountId: account } : {}) }),
        );
        this.#dlqUrl = out.QueueUrl ?? '';
      }
    }
    if (!this.#dlqUrl) {
      throw new WorkerError(
        'NO_DEAD_LETTER_QUEUE',
        `queue ${this.#queueUrl} has no redrive policy and no deadLetterQueueUrl was given: messages that can never succeed would have nowhere to go (run \`tq provision\`)`,
      );
    }
  }

  // ---- receiving -------------------------------------------------------------------------

  /** Starts receive calls for free slots. Called whenever a slot frees or a receive ends. */
  #pump(): void {
    if (this.#state !== 'running') return;
    const now = Date.now();
    if (now < this.#receiveBlockedUntil) {
      this.#wakeTimer ??= setTimeout(() => {
        this.#wakeTimer = undefined;
        this.#pump();
      }, this.#receiveBlockedUntil - now);
      return;
    }
    // During an outage one receive probes; the rest wait until it succeeds.
    const pollers = this.#receiveFailures > 0 ? 1 : this.#pollers;
    while (this.#activePolls < pollers) {
      const free = this.#concurrency - this.#held.size - this.#requested;
      if (free <= 0) return;
      // With a receive already out, wait until a whole batch is free rather than asking for
      // one message at a time; with none out, ask for whatever is free.
      if (this.#activePolls > 0 && free < this.#batchSize) return;
      const poll = this.#poll(Math.min(this.#batchSize, free));
      this.#polls.add(poll);
      void poll.finally(() => this.#polls.delete(poll));
    }
  }

  async #poll(count: number): Promise<void> {
    this.#activePolls += 1;
    this.#requested += count;
    let empty = false;
    try {
      const out = await this.#receiver.send(
        new ReceiveMessageCommand({
          QueueUrl: this.#queueUrl,
          MaxNumberOfMessages: count,
          WaitTimeSeconds: this.#waitTime,
          VisibilityTimeout: this.#visibility,
          MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
          MessageAttributeNames: ['All'],
        }),
        this.#receiveOptions,
      );
      this.#receiveSucceeded();
      const messages = out.Messages ?? [];
      empty = messages.length === 0;
      this.#requested -= count;
      count = 0;
      this.#accept(messages);
    } catch (error) {
      if (!(this.#pollAbort.signal.aborted && isAbort(error))) this.#receiveFailed(error);
    } finally {
      this.#activePolls -= 1;
      this.#requested -= count;
      if (empty && this.#waitTime === 0)
        this.#receiveBlockedUntil = Math.max(this.#receiveBlockedUntil, Date.now() + 500);
      this.#pump();
    }
  }

  #receiveSucceeded(): void {
    if (this.#receiveFailures === 0) return;
    const outageMs = Date.now() - this.#outageSince;
    this.#logger.info({ failures: this.#receiveFailures, outageMs }, 'receiving again');
    this.emit('receive-recovered', { failures: this.#receiveFailures, outageMs });
    this.#receiveFailures = 0;
    this.#receiveBlockedUntil = 0;
  }

  #receiveFailed(error: unknown): void {
    this.#receiveFailures += 1;
    this.#m.receiveErrors.inc();
    const backoff = this.#options.receiveBackoff;
    const retryInMs = backoffMs(this.#receiveFailures, backoff?.baseMs ?? 250, backoff?.capMs ?? 20_000);
    this.#receiveBlockedUntil = Date.now() + retryInMs;
    if (this.#receiveFailures === 1) {
      this.#outageSince = Date.now();
      // Logged once per outage; the metric and the event count every attempt.
      this.#logger.error({ err: error, queueUrl: this.#queueUrl }, 'receive failing; retrying with backoff');
    }
    this.emit('receive-error', { error, consecutive: this.#receiveFailures, retryInMs });
  }

  #accept(messages: Message[]): void {
    const now = Date.now();
    for (const message of messages) {
      const held: Held = {
        message,
        messageId: message.MessageId ?? '',
        receiptHandle: message.ReceiptHandle ?? '',
        attempt: Number(message.Attributes?.ApproximateReceiveCount ?? 1) || 1,
        // Standard queues may carry group ids too (fair queues): there they mean fairness, not order.
        groupId: this.#fifo ? message.Attributes?.MessageGroupId : undefined,
        state: 'waiting',
        visibleUntil: now + this.#visibility * 1000,
        heartbeat: undefined,
        work: undefined,
      };
      this.#held.add(held);
      this.#counts.received += 1;
      if (this.listenerCount('received') > 0)
        this.emit('received', { messageId: held.messageId, attempt: held.attempt });
      if (this.#state !== 'running') {
        // A receive that completed as shutdown began: hand it straight back.
        this.#track(this.#release([held]));
        continue;
      }
      if (held.groupId === undefined) {
        const work = this.#run(held);
        // #run takes itself out of the set when it ends (a run that ended already is not added).
        if (held.state !== 'done') {
          held.work = work;
          this.#running.add(work);
        }
        continue;
      }
      const group = this.#groups.get(held.groupId);
      if (group) group.push(held);
      else {
        this.#groups.set(held.groupId, [held]);
        this.#track(this.#runGroup(held.groupId));
      }
    }
  }

  #track(work: Promise<void>): void {
    this.#running.add(work);
    void work.finally(() => this.#running.delete(work));
  }

  /** Runs one FIFO group's messages one after another, in the order SQS gave them. */
  async #runGroup(groupId: string): Promise<void> {
    const queue = this.#groups.get(groupId);
    while (queue && queue.length > 0) {
      const next = queue[0] as Held;
      if (this.#state !== 'running') break;
      const outcome = await this.#run(next);
      queue.shift();
      if (outcome !== 'succeeded' && outcome !== 'dead-lettered') {
        // A retry must stay ahead of the rest of its group: hand the rest back unstarted.
        break;
      }
    }
    this.#groups.delete(groupId);
    const rest = (queue ?? []).filter((held) => held.state === 'waiting');
    if (rest.length > 0) await this.#release(rest);
  }

  // ---- running one message ------------------------------------------------------------------

  async #run(held: Held): Promise<Outcome> {
    held.state = 'running';
    const log = new MessageLog(this.#logger, held.messageId, held.attempt);
    let outcome: Outcome = 'released';
    try {
      outcome = await this.#attempt(held, log);
      return outcome;
    } catch (error) {
      // Only the runtime's own calls (DLQ send, visibility change) can end up here.
      log.get().error({ err: error }, 'could not settle message; it will be redelivered after its visibility timeout');
      return 'released';
    } finally {
      // An abandoned message keeps its slot until its handler really ends (see #abandon).
      if (outcome !== 'abandoned') {
        held.state = 'done';
        this.#held.delete(held);
      }
      if (held.work !== undefined) this.#running.delete(held.work);
      this.#pump();
    }
  }

  /** Decodes and checks the message, then hands it to the handler or settles it as poison. */
  async #attempt(held: Held, log: MessageLog): Promise<Outcome> {
    let decoded = decodeMessage(held.message, {
      registry: this.#registry,
      s3: this.#s3,
      allow: this.#s3Allow,
      signal: this.#shutdownAbort.signal,
    });
    if (decoded instanceof Promise) decoded = await decoded;
    if (!decoded.ok) {
      const failure: AttemptOutcome = this.#shutdownAbort.signal.aborted
        ? { kind: 'shutdown' }
        : decoded.retryable
          ? { kind: 'failed', message: decoded.message }
          : { kind: 'poison', code: decoded.code, message: decoded.message };
      return await this.#conclude(held, undefined, failure, log.get(), decoded.cause);
    }
    const envelope = decoded.envelope;
    if (envelope.task !== this.task) {
      const message = `a ${envelope.task} task arrived on the ${this.task} queue: check the subscription filter policy`;
      return await this.#conclude(held, envelope.id, { kind: 'poison', code: 'WRONG_TASK', message }, log.get());
    }
    if (!this.#versions.has(envelope.version)) {
      const message = `this worker handles ${this.task} versions ${[...this.#versions].join(', ')}, not ${envelope.version}`;
      return await this.#conclude(
        held,
        envelope.id,
        { kind: 'poison', code: 'UNSUPPORTED_VERSION', message },
        log.get(),
      );
    }
    return await this.#handle(held, envelope as TaskEnvelope<TTask>, decoded.form, log);
  }

  /** Calls the handler and settles the attempt by its outcome. */
  async #handle(held: Held, envelope: TaskEnvelope<TTask>, form: string, log: MessageLog): Promise<Outcome> {
    const started = performance.now();
    const running = new RunningHandler(
      this.#handlerTimeoutMs > 0 ? Date.now() + this.#handlerTimeoutMs : Number.POSITIVE_INFINITY,
    );
    this.#handlers.add(running);
    if (running.deadline !== Number.POSITIVE_INFINITY) this.#armTimeout();
    let result: unknown;
    let failed = false;
    let failure: unknown;
    try {
      result = await withMessageSpan(
        `${this.task} process`,
        envelope.traceparent,
        envelope.tracestate,
        () => ({
          'messaging.system': 'aws_sqs',
          'messaging.operation.type': 'process',
          'messaging.destination.name': this.#queueUrl,
          'messaging.message.id': held.messageId,
          'tq.task': this.task,
          'tq.task.id': envelope.id,
          'tq.attempt': held.attempt,
        }),
        (traceparent, traceId) => {
          log.bind(traceId ? { id: envelope.id, traceId } : { id: envelope.id });
          const context = new Context<TTask>(this.task, held, envelope, running, traceparent, log);
          if (this.#logger.isLevelEnabled('debug')) log.get().debug({ form }, 'task started');
          // One promise settles the attempt: the handler's own, or an abort (timeout, shutdown)
          // that does not wait for a handler ignoring its signal.
          return running.run(() => this.#options.handler(envelope.payload, context));
        },
      );
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      this.#handlers.delete(running);
      if (this.#handlers.size === 0) {
        clearTimeout(this.#timeoutTimer);
        this.#timeoutTimer = undefined;
      }
    }
    if (running.aborted) {
      // The message is neither retried nor released while its handler may still run: that would
      // let a second worker start it beside this one.
      // Its late result, if any, does not count: the abort already decided the attempt.
      if (!(await running.ended(this.#abortWaitMs))) return this.#abandon(held, running, log);
    }
    const durationMs = performance.now() - started;
    if (!failed) {
      this.#m.duration.succeeded.observe(durationMs / 1000);
      const heartbeat = this.#stopHeartbeat(held);
      if (heartbeat !== undefined) await heartbeat;
      this.#deletes.push(held.receiptHandle, (error) => {
        if (error === undefined) return;
        log.get().warn({ err: error }, 'delete failed after success: the task may run again (handlers are idempotent)');
      });
      this.#counts.succeeded += 1;
      if (this.#logger.isLevelEnabled('info')) {
        log.get().info({ durationMs: Math.round(durationMs), result }, 'task succeeded');
      }
      if (this.listenerCount('succeeded') > 0) {
        this.emit('succeeded', {
          id: envelope.id,
          messageId: held.messageId,
          attempt: held.attempt,
          durationMs,
          result,
        });
      }
      return 'succeeded';
    }
    log.bind({ id: envelope.id });
    const logger = log.get();
    if (this.#shutdownAbort.signal.aborted && running.reason === this.#shutdownAbort.signal.reason) {
      this.#m.duration.aborted.observe(durationMs / 1000);
      logger.warn('aborted by shutdown; returning the message to the queue');
      return await this.#conclude(held, envelope.id, { kind: 'shutdown' }, logger);
    }
    this.#m.failed.inc();
    const outcome = outcomeOfError(failure);
    this.#m.duration[outcome.kind === 'poison' ? 'dead-lettered' : 'failed'].observe(durationMs / 1000);
    return await this.#conclude(held, envelope.id, outcome, logger, failure);
  }

  /**
   * Leaves a message whose aborted handler is still running: no heartbeat, no visibility change,
   * so it comes back only when its visibility timeout runs out. It keeps its slot until the
   * handler really ends; shutdown does not wait for that.
   */
  #abandon(held: Held, running: RunningHandler, log: MessageLog): Outcome {
    held.state = 'abandoned';
    log
      .get()
      .warn(
        { abortWaitMs: this.#abortWaitMs, visibleUntil: new Date(held.visibleUntil).toISOString() },
        'aborted handler is still running: leaving its message to return after its visibility timeout',
      );
    void running.ended(Number.POSITIVE_INFINITY).then(() => {
      held.state = 'done';
      this.#held.delete(held);
      this.#pump();
    });
    return 'abandoned';
  }

  /** Settles a message by the failure policy's decision for `outcome` (never called for a success). */
  async #conclude(
    held: Held,
    id: string | undefined,
    outcome: AttemptOutcome,
    log: Logger,
    error?: unknown,
  ): Promise<Outcome> {
    const decision = decide(outcome, {
      attempt: held.attempt,
      maxReceiveCount: this.#maxReceiveCount,
      retry: this.#options.retry,
    });
    switch (decision.action) {
      case 'retry':
        return await this.#retry(held, id, decision.delaySeconds, error, log);
      case 'dead-letter':
        return await this.#deadLetter(held, id, decision.code, decision.reason, log, error);
      case 'release':
        await this.#release([held]);
        return 'released';
      case 'ack':
        throw new Error('a success is acknowledged by #handle, not concluded');
    }
  }

  /** Aborts every running handler and claim-check download (shutdown's grace is over). */
  #abortRunning(reason: unknown): void {
    this.#shutdownAbort.abort(reason);
    for (const running of this.#handlers) running.abort(this.#shutdownAbort.signal.reason);
  }

  /**
   * One timer for every handler timeout: armed for the oldest running handler's deadline (all
   * handlers get the same timeout, so start order is deadline order).
   */
  #armTimeout(): void {
    if (this.#timeoutTimer !== undefined) return;
    const first = this.#handlers.values().next().value;
    if (first === undefined || first.deadline === Number.POSITIVE_INFINITY) return;
    this.#timeoutTimer = setTimeout(
      () => {
        this.#timeoutTimer = undefined;
        const now = Date.now();
        for (const running of this.#handlers) {
          if (running.deadline > now) break;
          this.#handlers.delete(running);
          running.abort(new WorkerError('HANDLER_TIMEOUT', `handler ran longer than ${this.#handlerTimeoutMs} ms`));
        }
        this.#armTimeout();
      },
      Math.max(0, first.deadline - Date.now()),
    );
  }

  /**
   * Takes a message out of the heartbeat. Returns a promise only when a heartbeat call is in
   * flight, which an acknowledgement must wait for (the common case needs no await).
   */
  #stopHeartbeat(held: Held): Promise<void> | undefined {
    held.state = 'settling';
    return held.heartbeat === undefined ? undefined : this.#heartbeatsLanded(held);
  }

  async #heartbeatsLanded(held: Held): Promise<void> {
    while (held.heartbeat !== undefined) await held.heartbeat;
  }

  async #retry(
    held: Held,
    id: string | undefined,
    delaySeconds: number,
    error: unknown,
    log: Logger,
  ): Promise<'retried'> {
    await this.#stopHeartbeat(held);
    await this.#visibilityChanges.add({ receiptHandle: held.receiptHandle, seconds: delaySeconds });
    this.#m.retried.inc();
    log.warn({ err: error, delaySeconds }, 'task failed; retrying');
    this.emit('retrying', { id, messageId: held.messageId, attempt: held.attempt, delaySeconds, error });
    return 'retried';
  }

  async #deadLetter(
    held: Held,
    id: string | undefined,
    code: string,
    reason: string,
    log: Logger,
    error?: unknown,
  ): Promise<'dead-lettered' | 'retried' | 'released'> {
    await this.#stopHeartbeat(held);
    const message = held.message;
    const firstReceived = Number(message.Attributes?.ApproximateFirstReceiveTimestamp);
    const firstFailureAt =
      held.attempt > 1 && Number.isFinite(firstReceived) ? new Date(firstReceived) : new Date(Date.now());
    const reasonAttributes: Record<string, MessageAttributeValue> = {
      [FAILURE_ATTRIBUTES.code]: { DataType: 'String', StringValue: code },
      [FAILURE_ATTRIBUTES.message]: { DataType: 'String', StringValue: reason.slice(0, MAX_REASON_LENGTH) || code },
      [FAILURE_ATTRIBUTES.sourceQueue]: { DataType: 'String', StringValue: this.#queueUrl },
      [FAILURE_ATTRIBUTES.receiveCount]: { DataType: 'Number', StringValue: String(held.attempt) },
      [FAILURE_ATTRIBUTES.firstFailureAt]: { DataType: 'String', StringValue: firstFailureAt.toISOString() },
    };
    const failureNames = new Set<string>(Object.values(FAILURE_ATTRIBUTES));
    const kept = Object.entries(message.MessageAttributes ?? {})
      .filter(([name]) => !failureNames.has(name))
      // Keep routing attributes first if the original used all ten.
      .sort(([a], [b]) => Number(b === 'task' || b === 'version') - Number(a === 'task' || a === 'version'))
      .slice(0, 10 - REASON_ATTRIBUTE_COUNT);
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of kept) {
      attributes[name] = {
        DataType: value.DataType,
        ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
        ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
      };
    }
    Object.assign(attributes, reasonAttributes);
    const fifo = this.#dlqUrl.endsWith('.fifo');
    try {
      await this.#sqs.send(
        new SendMessageCommand({
          QueueUrl: this.#dlqUrl,
          MessageBody: message.Body ?? '',
          MessageAttributes: attributes,
          ...(fifo ? { MessageGroupId: held.groupId ?? 'tq-dead-letter', MessageDeduplicationId: held.messageId } : {}),
        }),
      );
    } catch (sendError) {
      log.error(
        { err: sendError, code, reason },
        'could not send to the dead-letter queue; keeping the message for a retry',
      );
      await this.#visibilityChanges.add({
        receiptHandle: held.receiptHandle,
        seconds: retryDelaySeconds(held.attempt, this.#options.retry),
      });
      return 'retried';
    }
    // Only now that the DLQ holds a copy may the original go.
    void this.#deletes.add(held.receiptHandle).catch((deleteError: unknown) => {
      log.warn({ err: deleteError }, 'delete after dead-lettering failed: the message may be dead-lettered twice');
    });
    this.metrics.deadLettered.inc({ task: this.task, code });
    log.error({ code, reason, ...(error === undefined ? {} : { err: error }) }, 'task dead-lettered');
    this.emit('dead-lettered', {
      id,
      messageId: held.messageId,
      attempt: held.attempt,
      code,
      reason,
      ...(error === undefined ? {} : { error }),
    });
    return 'dead-lettered';
  }

  /** Hands messages back untouched (visibility 0), last first so a FIFO group keeps its order. */
  async #release(messages: Held[]): Promise<void> {
    const pollsLeft = this.#pollsOverAt - Date.now();
    if (pollsLeft > 0) await sleep(pollsLeft);
    const changes = [...messages].reverse().map(async (held) => {
      await this.#stopHeartbeat(held);
      held.state = 'done';
      this.#held.delete(held);
      try {
        await this.#visibilityChanges.add({ receiptHandle: held.receiptHandle, seconds: 0 });
        this.emit('released', { messageId: held.messageId, reason: 'shutdown' });
      } catch (error) {
        this.#logger.warn(
          { err: error, messageId: held.messageId },
          'could not release message; it returns after its visibility timeout',
        );
      }
    });
    await Promise.all(changes);
  }

  // ---- heartbeat --------------------------------------------------------------------------

  /** One timer for every held message: extends those whose visibility ends before the next tick or two. */
  #heartbeat(): void {
    const horizon = Date.now() + 2 * this.#heartbeatMs;
    for (const held of this.#held) {
      if ((held.state !== 'running' && held.state !== 'waiting') || held.heartbeat || held.visibleUntil > horizon) {
        continue;
      }
      const sentAt = Date.now();
      held.heartbeat = this.#visibilityChanges
        .add({ receiptHandle: held.receiptHandle, seconds: this.#visibility })
        .then(
          () => {
            held.visibleUntil = sentAt + this.#visibility * 1000;
          },
          (error: unknown) => {
            this.#logger.warn(
              { err: error, messageId: held.messageId },
              'heartbeat failed: the message may be delivered again while it runs',
            );
          },
        )
        .finally(() => {
          held.heartbeat = undefined;
        });
    }
  }

  // ---- shutdown ---------------------------------------------------------------------------

  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    if (this.#state === 'idle' || this.#state === 'stopped') {
      this.#state = 'stopped';
      this.#closeResources();
      return;
    }
    this.#state = 'stopping';
    clearTimeout(this.#wakeTimer);
    // A receive that is answering right now has already taken its messages off the queue;
    // aborting it would hide them until their visibility timeout. Give such receives a
    // moment to land (their messages are then handed straight back), and abort the long
    // polls still waiting on an empty queue.
    if (this.#polls.size > 0) {
      const landed = new AbortController();
      await Promise.race([Promise.allSettled([...this.#polls]), sleep(RECEIVE_LANDING_MS, landed.signal)]);
      landed.abort();
      // An aborted long poll may live on at the endpoint until its wait time ends and take a
      // message there that nobody will read: releases wait until such polls are surely over.
      if (this.#polls.size > 0) this.#pollsOverAt = Date.now() + this.#waitTime * 1000 + 250;
    }
    this.#pollAbort.abort();
    // Aborted receives end at once; none may outlive the worker (or retry on a destroyed client).
    await Promise.allSettled([...this.#polls]);
    const inFlight = this.#held.size;
    this.#logger.info({ inFlight, graceMs: this.#graceMs }, 'stopping: no new messages; finishing running tasks');

    // Waiting FIFO messages go back untouched; their group runners stop after the current one.
    const waiting = [...this.#held].filter((held) => held.state === 'waiting' && held.groupId === undefined);
    if (waiting.length > 0) await this.#release(waiting);

    const allDone = async () => {
      while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    };
    const finished = allDone().then(() => true);
    const graceOver = new AbortController();
    const inTime = await Promise.race([finished, sleep(this.#graceMs, graceOver.signal).then(() => false)]);
    graceOver.abort();
    if (!inTime) {
      this.#logger.warn({ running: this.#held.size }, 'grace period over: aborting running tasks');
      this.#abortRunning(new Error('worker shutdown'));
      // Each aborted run ends within abortWaitMs: released once its handler ended, or abandoned
      // (left to its visibility timeout) if the handler ignores its signal.
      await finished;
    }
    clearInterval(this.#heartbeatTimer);
    await Promise.all([this.#deletes.flush(), this.#visibilityChanges.flush()]);
    await this.#health?.close();
    if (this.#signalHandler) {
      process.off('SIGTERM', this.#signalHandler);
      process.off('SIGINT', this.#signalHandler);
    }
    this.#state = 'stopped';
    this.#closeResources();
    this.#logger.info('worker stopped');
    this.emit('stopped');
  }

  /** The end of a worker's life: destroys its own clients, publishes its last counts and stops publishing. */
  #closeResources(): void {
    for (const client of this.#owned.splice(0)) client.destroy();
    this.#publishCounts();
    for (const stop of this.#stopCollecting.splice(0)) stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
