import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import { WorkerError } from './errors.js';

/** The worker's Prometheus metrics. Labels: `task` everywhere, plus the ones named. */
export interface WorkerMetrics {
  registry: Registry;
  /** `tq_messages_received_total` */
  received: Counter<'task'>;
  /** `tq_tasks_succeeded_total` */
  succeeded: Counter<'task'>;
  /** `tq_tasks_failed_total`: handler errors and timeouts (each is then retried or dead-lettered). */
  failed: Counter<'task'>;
  /** `tq_tasks_retried_total`: attempts whose visibility was set for another try. */
  retried: Counter<'task'>;
  /** `tq_tasks_dead_lettered_total{code}` */
  deadLettered: Counter<'task' | 'code'>;
  /** `tq_handler_duration_seconds{outcome}` */
  duration: Histogram<'task' | 'outcome'>;
  /** `tq_tasks_in_flight`: messages held by this worker (running or waiting behind their FIFO group). */
  inFlight: Gauge<'task'>;
  /** `tq_tasks_prefetched`: of those, messages received ahead of a free slot and waiting for one (`prefetch`). */
  prefetched: Gauge<'task'>;
  /** `tq_receive_errors_total` */
  receiveErrors: Counter<'task'>;
  /** `tq_status_write_failures_total`: status updates that could not be written (the task's status is unknown). */
  statusWriteFailures: Counter<'task'>;
  /**
   * `tq_idempotency_total{outcome}`: what the idempotency guard found before a handler ran:
   * `claimed` (ran), `duplicate` (done before: acknowledged with the stored result), `busy`
   * (another worker's lease), `reused` (key of a different payload), `unguarded` (store down,
   * ran anyway) or `unavailable` (store down, retried).
   */
  idempotency: Counter<'task' | 'outcome'>;
  /** `tq_idempotency_store_errors_total`: failed calls to the idempotency store. */
  idempotencyStoreErrors: Counter<'task'>;
}

/** Work to do before a metric is read (a scrape, `get()`), by metric. */
const collectors = new WeakMap<object, Set<() => void>>();

/** prom-client calls this on every read of a metric created here; it runs the registered collectors. */
function collect(this: object): void {
  for (const run of collectors.get(this) ?? []) run();
}

/**
 * Runs `publish` before every read of `metric`: a worker counts per message in plain numbers and
 * publishes them here, so no per-message update hashes a label set. Returns the unregister
 * function. Only metrics made by `createWorkerMetrics` call back.
 */
export function onCollect(metric: object, publish: () => void): () => void {
  let set = collectors.get(metric);
  if (!set) {
    set = new Set();
    collectors.set(metric, set);
  }
  set.add(publish);
  return () => set.delete(publish);
}

function reuse<T extends Metric>(registry: Registry, name: string, create: () => T): T {
  // Several workers in one process share a registry; the first one registers each metric.
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** Registers (or reuses) the worker metrics in `registry`. */
export function createWorkerMetrics(registry: Registry = new Registry()): WorkerMetrics {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    reuse(registry, name, () => new Counter<L>({ name, help, labelNames, registers, collect }));
  return {
    registry,
    received: counter('tq_messages_received_total', 'Messages received from the task queue', ['task']),
    succeeded: counter('tq_tasks_succeeded_total', 'Tasks whose handler succeeded', ['task']),
    failed: counter('tq_tasks_failed_total', 'Attempts whose handler threw or timed out', ['task']),
    retried: counter('tq_tasks_retried_total', 'Failed attempts returned to the queue for a retry', ['task']),
    deadLettered: counter('tq_tasks_dead_lettered_total', 'Messages moved to the dead-letter queue', ['task', 'code']),
    duration: reuse(
      registry,
      'tq_handler_duration_seconds',
      () =>
        new Histogram({
          name: 'tq_handler_duration_seconds',
          help: 'Handler run time',
          labelNames: ['task', 'outcome'],
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
          registers,
        }),
    ),
    inFlight: reuse(
      registry,
      'tq_tasks_in_flight',
      () =>
        new Gauge({
          name: 'tq_tasks_in_flight',
          help: 'Messages held by the worker',
          labelNames: ['task'],
          registers,
          collect,
        }),
    ),
    prefetched: reuse(
      registry,
      'tq_tasks_prefetched',
      () =>
        new Gauge({
          name: 'tq_tasks_prefetched',
          help: 'Messages received ahead of a free slot, waiting for one (prefetch); counted in tq_tasks_in_flight too',
          labelNames: ['task'],
          registers,
          collect,
        }),
    ),
    receiveErrors: counter('tq_receive_errors_total', 'Failed ReceiveMessage calls', ['task']),
    statusWriteFailures: counter(
      'tq_status_write_failures_total',
      'Task status updates that could not be written to the status table',
      ['task'],
    ),
    idempotency: counter('tq_idempotency_total', 'What the idempotency guard found before a handler ran, by outcome', [
      'task',
      'outcome',
    ]),
    idempotencyStoreErrors: counter('tq_idempotency_store_errors_total', 'Calls to the idempotency store that failed', [
      'task',
    ]),
  };
}

/** How an attempt's handler run ended, for `tq_handler_duration_seconds{outcome}`. */
export type DurationOutcome = 'succeeded' | 'failed' | 'aborted' | 'dead-lettered';

/**
 * One worker's metrics, bound to its task. The per-message counts (received, succeeded) and the
 * in-flight gauge are plain numbers published whenever the metrics are read, so no message pays
 * for a labelled update; the rest are rarer and update at once.
 */
export class TaskMetrics {
  readonly #metrics: WorkerMetrics;
  readonly #task: string;
  readonly #inFlight: () => number;
  readonly #prefetched: () => number;
  readonly #bound: {
    received: { inc(value?: number): void };
    succeeded: { inc(value?: number): void };
    failed: { inc(): void };
    retried: { inc(): void };
    inFlight: { set(value: number): void };
    prefetched: { set(value: number): void };
    receiveErrors: { inc(): void };
    duration: Record<DurationOutcome, { observe(value: number): void }>;
  };
  #received = 0;
  #succeeded = 0;
  readonly #unregister: (() => void)[];

  constructor(metrics: WorkerMetrics, task: string, inFlight: () => number, prefetched: () => number = () => 0) {
    this.#metrics = metrics;
    this.#task = task;
    this.#inFlight = inFlight;
    this.#prefetched = prefetched;
    const labels = { task };
    // Label sets bound once (prom-client still hashes them on each update).
    this.#bound = {
      received: metrics.received.labels(labels),
      succeeded: metrics.succeeded.labels(labels),
      failed: metrics.failed.labels(labels),
      retried: metrics.retried.labels(labels),
      inFlight: metrics.inFlight.labels(labels),
      prefetched: metrics.prefetched.labels(labels),
      receiveErrors: metrics.receiveErrors.labels(labels),
      duration: {
        succeeded: metrics.duration.labels({ task, outcome: 'succeeded' }),
        failed: metrics.duration.labels({ task, outcome: 'failed' }),
        aborted: metrics.duration.labels({ task, outcome: 'aborted' }),
        'dead-lettered': metrics.duration.labels({ task, outcome: 'dead-lettered' }),
      },
    };
    const publish = () => this.publish();
    this.#unregister = [
      onCollect(metrics.received, publish),
      onCollect(metrics.succeeded, publish),
      onCollect(metrics.inFlight, publish),
      onCollect(metrics.prefetched, publish),
    ];
  }

  received(count: number): void {
    this.#received += count;
  }

  succeeded(seconds: number): void {
    this.#succeeded += 1;
    this.#bound.duration.succeeded.observe(seconds);
  }

  /** A handler run that did not succeed: `failed` counts handler errors and timeouts. */
  ended(outcome: Exclude<DurationOutcome, 'succeeded'>, seconds: number): void {
    if (outcome !== 'aborted') this.#bound.failed.inc();
    this.#bound.duration[outcome].observe(seconds);
  }

  retried(): void {
    this.#bound.retried.inc();
  }

  deadLettered(code: string): void {
    this.#metrics.deadLettered.inc({ task: this.#task, code });
  }

  receiveError(): void {
    this.#bound.receiveErrors.inc();
  }

  /** Publishes the per-message counts and the in-flight gauge (called when the metrics are read). */
  publish(): void {
    if (this.#received > 0) this.#bound.received.inc(this.#received);
    if (this.#succeeded > 0) this.#bound.succeeded.inc(this.#succeeded);
    this.#received = 0;
    this.#succeeded = 0;
    this.#bound.inFlight.set(this.#inFlight());
    this.#bound.prefetched.set(this.#prefetched());
  }

  /** Publishes the last counts and stops publishing on reads (the worker has stopped). */
  close(): void {
    this.publish();
    for (const unregister of this.#unregister.splice(0)) unregister();
  }
}

/** What the health server reports. */
export interface HealthProbe {
  /** Liveness: false only once the worker has stopped. */
  live(): boolean;
  /** Readiness: running and the last receive succeeded. */
  ready(): boolean;
}

/** A running health/metrics server. */
export interface HealthServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/** Serves `/healthz`, `/readyz` and `/metrics` (Prometheus text format). */
export async function startHealthServer(
  probe: HealthProbe,
  registry: Registry,
  options: { port: number; host: string },
): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'application/json') => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, '{"error":"method not allowed"}');
    if (path === '/healthz') {
      const live = probe.live();
      return reply(live ? 200 : 503, JSON.stringify({ status: live ? 'ok' : 'stopped' }));
    }
    if (path === '/readyz') {
      const ready = probe.ready();
      return reply(ready ? 200 : 503, JSON.stringify({ status: ready ? 'ready' : 'not ready' }));
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, text, registry.contentType),
        (error: unknown) => reply(500, JSON.stringify({ error: (error as Error).message })),
      );
      return;
    }
    reply(404, '{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') return reject(error);
      reject(
        new WorkerError(
          'HTTP_PORT_IN_USE',
          `port ${options.port} on ${options.host} is already in use (another worker on this host?): give each worker its own http.port (TQ_HTTP_PORT for the apps), 0 for any free port, or turn it off`,
          { cause: error },
        ),
      );
    };
    server.once('error', failed);
    server.listen(options.port, options.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    host: options.host,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
