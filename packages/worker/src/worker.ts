import { EventEmitter, setMaxListeners } from 'node:events';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Message } from '@aws-sdk/client-sqs';
import {
  awsClientSettings,
  registry as builtinRegistry,
  readEnvironment,
  type TaskName,
  type TaskRegistry,
} from '@tq/contracts';
import { type Logger, pino } from 'pino';
import { Attempts } from './attempt.js';
import { CancelWatch } from './cancel.js';
import { workerClients } from './clients.js';
import type { DecodeOptions } from './decode.js';
import { WorkerError } from './errors.js';
import { HandlerRunner, MessageLog } from './execution.js';
import { WorkerFlows } from './flows.js';
import { IdempotencyGuard } from './guard.js';
import { Heartbeat } from './heartbeat.js';
import type { Held } from './held.js';
import { InFlight } from './in-flight.js';
import {
  createWorkerMetrics,
  type HealthServer,
  startHealthServer,
  TaskMetrics,
  type WorkerMetrics,
} from './observability.js';
import { type ResolvedOptions, resolveOptions } from './options.js';
import { Poller } from './poller.js';
import { TaskQueue } from './queue.js';
import { resolveS3Allow } from './s3.js';
import { type Settled, Settlement } from './settlement.js';
import { onStopSignals } from './signals.js';
import { sleep } from './sleep.js';
import { StatusRecorder, type StatusRecorderOn } from './status.js';
import type { Worker, WorkerEvents, WorkerOptions, WorkerState } from './types.js';

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
  return new TqWorker(options, registry, resolveOptions(options, registry));
}

/**
 * Wires the runtime's parts and owns a worker's life (start, stop, events): the queue
 * (`queue.ts`), the poller (`poller.ts`), the in-flight ledger (`in-flight.ts`), the heartbeat
 * (`heartbeat.ts`), one attempt of a message (`attempt.ts`: decode, guard, handler), the failure
 * policy (`policy.ts`) and settlement (`settlement.ts`). What it does itself is decide when a
 * received message runs: in a free slot, after the prefetched ones, or one FIFO group at a time.
 */
class TqWorker<TTask extends TaskName> extends EventEmitter implements Worker<TTask> {
  readonly task: TTask;
  readonly metrics: WorkerMetrics;
  #state: WorkerState = 'idle';
  readonly #options: WorkerOptions<TTask>;
  readonly #settings: ResolvedOptions;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #s3: S3Client;
  /** What decoding needs, made once for every message. */
  readonly #decodeOptions: DecodeOptions;
  /** Clients the worker made itself, destroyed when it stops. */
  readonly #owned: { destroy(): void }[] = [];
  readonly #taskMetrics: TaskMetrics;
  readonly #queue: TaskQueue;
  readonly #poller: Poller;
  readonly #heartbeat: Heartbeat;
  readonly #handlers: HandlerRunner<TTask>;
  readonly #settlement: Settlement;
  /** Every message held, from receipt to settlement, and the slots they take. */
  readonly #inFlight: InFlight;
  readonly #attempts: Attempts<TTask>;
  /** Aborts receives (the receiving client listens on it). */
  readonly #pollAbort = new AbortController();
  /** Aborted when shutdown's grace is over: running handlers and claim-check downloads. */
  readonly #shutdownAbort = new AbortController();
  #health: HealthServer | undefined;
  #stopping: Promise<void> | undefined;
  #stopListening: (() => void) | undefined;
  readonly #fifoFromEnv: boolean;
  /** Whether "not ready" was logged (so each change is logged once). */
  #pausedLogged = false;
  readonly #status: StatusRecorder | undefined;
  readonly #flows: WorkerFlows;
  readonly #cancels: CancelWatch | undefined;
  readonly #guard: IdempotencyGuard | undefined;

  constructor(options: WorkerOptions<TTask>, registry: TaskRegistry, settings: ResolvedOptions) {
    super();
    this.task = options.task;
    this.#options = options;
    this.#settings = settings;
    this.#inFlight = new InFlight(settings.concurrency);
    const env = readEnvironment();
    this.#prefix = options.prefix ?? env.prefix;
    this.#fifoFromEnv = env.fifoTasks.includes(options.task);
    const clientSettings = awsClientSettings({
      ...env,
      ...(options.region ? { region: options.region } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    });
    const clients = workerClients(options, clientSettings, this.#pollAbort.signal);
    this.#owned.push(...clients.owned);
    this.#s3 = clients.s3;
    this.#decodeOptions = {
      registry,
      s3: this.#s3,
      allow: resolveS3Allow(options.s3Allow, { prefix: options.prefix }),
      signal: this.#shutdownAbort.signal,
    };
    // Claim-check downloads listen on the shutdown signal; there are up to `concurrency` of them.
    setMaxListeners(settings.concurrency + 16, this.#shutdownAbort.signal);
    this.#logger = (options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' })).child({ task: options.task });
    this.metrics = createWorkerMetrics(options.metricsRegistry);
    this.#taskMetrics = new TaskMetrics(
      this.metrics,
      options.task,
      () => this.#inFlight.size,
      () => this.#inFlight.waiting,
    );

    const parts = { task: options.task, prefix: this.#prefix, logger: this.#logger, metrics: this.metrics };
    const on: StatusRecorderOn = (event, listener) => this.on(event, listener);
    this.#status = options.status ? new StatusRecorder({ ...parts, status: options.status, on }) : undefined;
    const { idempotency } = options;
    const { visibilityTimeoutSeconds } = settings;
    this.#guard = idempotency ? new IdempotencyGuard({ ...parts, idempotency, visibilityTimeoutSeconds }) : undefined;
    this.#queue = new TaskQueue(clients);
    const flowOptions = { sns: options.sns, sqsInjected: options.sqs !== undefined, status: options.status, registry };
    this.#flows = new WorkerFlows({ ...clients, ...flowOptions, settings: clientSettings, prefix: this.#prefix });
    this.#poller = new Poller(this.#queue, settings, this.#pollerHost(), this.#pollAbort);
    this.#heartbeat = new Heartbeat(
      this.#queue,
      this.#inFlight,
      settings.visibilityTimeoutSeconds,
      settings.heartbeatMs,
      this.#logger,
    );
    this.#handlers = new HandlerRunner({
      task: options.task,
      handler: options.handler,
      timeoutMs: settings.handlerTimeoutMs,
      abortWaitMs: settings.abortWaitMs,
      shutdown: this.#shutdownAbort.signal,
      queueUrl: () => this.#queue.url,
      logger: this.#logger,
      progress: this.#status?.progress.bind(this.#status),
    });
    const onCancelled = (ids: ReadonlySet<string>) => this.#handlers.abortCancelled(ids);
    const watch = { intervalMs: settings.heartbeatMs, logger: this.#logger, onCancelled };
    this.#cancels = this.#status ? new CancelWatch({ ...watch, status: this.#status.store }) : undefined;
    this.#settlement = new Settlement({
      queue: this.#queue,
      ledger: this.#inFlight,
      metrics: this.#taskMetrics,
      events: this,
      logger: this.#logger,
      retry: settings.retry,
      finalSteps: this.#status,
    });
    this.#attempts = new Attempts({
      task: options.task,
      versions: settings.versions,
      decode: this.#decodeOptions,
      shutdown: this.#shutdownAbort.signal,
      handlers: this.#handlers,
      settlement: this.#settlement,
      metrics: this.#taskMetrics,
      guard: this.#guard,
      status: this.#status,
      flows: this.#flows,
      cancels: this.#cancels,
      abandon: (held, ended, log) => this.#abandon(held, ended, log),
    });
  }

  #pollerHost() {
    return {
      held: () => this.#inFlight.size,
      // Prefetched messages wait outside a FIFO group's order only on standard queues.
      capacity: () => this.#settings.concurrency + (this.#queue.fifo ? 0 : this.#settings.prefetch),
      buffered: () => this.#inFlight.waiting,
      accept: (messages: Message[]) => this.#accept(messages),
      receiveFailed: (error: unknown, consecutive: number, retryInMs: number) => {
        this.#taskMetrics.receiveError();
        // Logged once per outage; the metric and the event count every attempt.
        if (consecutive === 1) {
          this.#logger.error({ err: error, queueUrl: this.#queue.url }, 'receive failing; retrying with backoff');
        }
        this.emit('receive-error', { error, consecutive, retryInMs });
      },
      receiveRecovered: (failures: number, outageMs: number) => {
        this.#logger.info({ failures, outageMs }, 'receiving again');
        this.emit('receive-recovered', { failures, outageMs });
      },
      paused: () => {
        const ready = this.#options.readiness?.() ?? true;
        if (ready === this.#pausedLogged) {
          this.#pausedLogged = !ready;
          this.#logger[ready ? 'info' : 'warn'](ready ? 'ready again: receiving' : 'not ready: taking no new messages');
        }
        return !ready;
      },
    };
  }

  get state(): WorkerState {
    return this.#state;
  }

  get ready(): boolean {
    return this.#state === 'running' && !this.#poller.failing && (this.#options.readiness?.() ?? true);
  }

  get inFlight(): number {
    return this.#inFlight.size;
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
      await this.#queue.resolve(this.task, this.#prefix, this.#options.fifo ?? this.#fifoFromEnv, this.#options);
      await this.#cancels?.start();
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
      this.#stopListening = onStopSignals(this.#logger, {
        stop: () => void this.stop(),
        abort: (signal) => this.#abortHandlers(new Error(`aborted by ${signal}`)),
      });
    }
    this.#state = 'running';
    this.#heartbeat.start();
    this.#logger.info(
      {
        queueUrl: this.#queue.url,
        deadLetterQueueUrl: this.#queue.deadLetterUrl,
        concurrency: this.#settings.concurrency,
        ...(this.#settings.prefetch > 0 && !this.#queue.fifo ? { prefetch: this.#settings.prefetch } : {}),
        pollers: this.#settings.pollers,
        versions: Object.keys(this.#decodeOptions.registry.get(this.task)?.versions ?? {}).map(Number),
        ...(this.#health ? { http: `http://${this.#health.host}:${this.#health.port}` } : {}),
      },
      'worker started',
    );
    this.emit('started', {
      queueUrl: this.#queue.url,
      deadLetterQueueUrl: this.#queue.deadLetterUrl,
      maxReceiveCount: this.#queue.maxReceiveCount,
    });
    this.#poller.start();
  }

  // ---- routing received messages ------------------------------------------------------------

  #accept(messages: Message[]): void {
    const now = Date.now();
    const fifo = this.#queue.fifo;
    const visibility = this.#settings.visibilityTimeoutSeconds;
    for (const message of messages) {
      const held = this.#inFlight.receive(message, now, visibility, fifo);
      this.#taskMetrics.received(1);
      if (this.listenerCount('received') > 0) {
        this.emit('received', { messageId: held.messageId, attempt: held.attempt });
      }
      if (this.#state !== 'running') {
        // A receive that completed as shutdown began: hand it straight back.
        this.#inFlight.track(this.#settlement.release([held]));
        continue;
      }
      if (held.groupId === undefined) {
        if (this.#inFlight.hasFreeSlot) this.#start(held);
        else this.#inFlight.wait(held);
        continue;
      }
      if (this.#inFlight.joinGroup(held, held.groupId)) this.#inFlight.track(this.#processGroup(held.groupId));
    }
  }

  /** Starts a message outside a FIFO group. */
  #start(held: Held): void {
    const work = this.#process(held);
    // #process takes itself out of the set when it ends (one that ended already is not added).
    if (held.state !== 'done') this.#inFlight.trackMessage(held, work);
  }

  /** Starts prefetched messages while slots are free (none once stopping: shutdown hands them back). */
  #startWaiting(): void {
    while (this.#state === 'running') {
      const next = this.#inFlight.nextWaiting();
      if (next === undefined) return;
      this.#start(next);
    }
  }

  /** Processes one FIFO group's messages one after another, in the order SQS gave them. */
  async #processGroup(groupId: string): Promise<void> {
    const queue = this.#inFlight.group(groupId);
    while (queue.length > 0) {
      const next = queue[0] as Held;
      if (this.#state !== 'running') break;
      const settled = await this.#process(next);
      queue.shift();
      // A retry must stay ahead of the rest of its group: hand the rest back unstarted.
      if (settled !== 'succeeded' && settled !== 'dead-lettered') break;
    }
    this.#inFlight.endGroup(groupId);
    const rest = queue.filter((held) => held.state === 'waiting');
    if (rest.length > 0) await this.#settlement.release(rest);
  }

  /** One message from its start to its settlement; frees its slot at the end (see #abandon). */
  async #process(held: Held): Promise<Settled> {
    this.#inFlight.begin(held);
    const log = new MessageLog(this.#logger, held.messageId, held.attempt);
    let settled: Settled = 'released';
    try {
      settled = await this.#attempts.run(held, log);
      return settled;
    } catch (error) {
      // Only the runtime's own calls (DLQ send, visibility change) can end up here.
      log.get().error({ err: error }, 'could not settle message; it will be redelivered after its visibility timeout');
      return 'released';
    } finally {
      if (settled !== 'abandoned') {
        this.#inFlight.end(held);
        this.#startWaiting();
      }
      this.#inFlight.untrack(held);
      this.#poller.pump();
    }
  }

  /**
   * Leaves a message whose aborted handler is still running: no heartbeat, no visibility change,
   * so it comes back only when its visibility timeout runs out. It keeps its slot until the
   * handler really ends; shutdown does not wait for that.
   */
  #abandon(held: Held, ended: Promise<boolean>, log: MessageLog): Settled {
    held.state = 'abandoned';
    log
      .get()
      .warn(
        { abortWaitMs: this.#settings.abortWaitMs, visibleUntil: new Date(held.visibleUntil).toISOString() },
        'aborted handler is still running: leaving its message to return after its visibility timeout',
      );
    void ended.then(() => {
      this.#inFlight.end(held);
      this.#startWaiting();
      this.#poller.pump();
    });
    return 'abandoned';
  }

  /** Aborts every running handler and claim-check download (shutdown's grace is over, or a second signal). */
  #abortHandlers(reason: unknown): void {
    this.#shutdownAbort.abort(reason);
    this.#handlers.abortAll();
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
    this.#settlement.pollsOverAt = await this.#poller.stop();
    const graceMs = this.#settings.shutdownGraceMs;
    this.#logger.info({ inFlight: this.#inFlight.size, graceMs }, 'stopping: no new messages; finishing running tasks');

    // Waiting messages go back untouched; FIFO group runners stop after the current one.
    const waiting = this.#inFlight.drainWaiting();
    if (waiting.length > 0) await this.#settlement.release(waiting);

    const finished = this.#inFlight.allDone().then(() => true);
    const graceOver = new AbortController();
    const inTime = await Promise.race([finished, sleep(graceMs, graceOver.signal).then(() => false)]);
    graceOver.abort();
    if (!inTime) {
      this.#logger.warn({ running: this.#inFlight.size }, 'grace period over: aborting running tasks');
      this.#abortHandlers(new Error('worker shutdown'));
      // Each aborted message settles within abortWaitMs: released once its handler ended, or
      // abandoned (left to its visibility timeout) if the handler ignores its signal.
      await finished;
    }
    this.#heartbeat.stop();
    this.#cancels?.stop();
    // Final steps first: the deletes that wait for them join the queue's last batches.
    await this.#status?.flush();
    await this.#queue.flush();
    await this.#status?.close();
    await this.#flows.close();
    this.#guard?.close();
    await this.#health?.close();
    this.#stopListening?.();
    this.#state = 'stopped';
    this.#closeResources();
    this.#logger.info('worker stopped');
    this.emit('stopped');
  }

  /** The end of a worker's life: destroys its own clients, publishes its last counts and stops publishing. */
  #closeResources(): void {
    for (const client of this.#owned.splice(0)) client.destroy();
    this.#taskMetrics.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // Typed events (EventEmitter's own signatures take any event name).
  override emit<E extends keyof WorkerEvents>(event: E, ...args: WorkerEvents[E]): boolean {
    return super.emit(event, ...args);
  }
}
