import { EventEmitter } from 'node:events';
import { BrokerConnection } from '@tq/activemq';
import { copyQueueName, type TaskName, type TqEnvironment } from '@tq/contracts';
import { createProducer, type Producer } from '@tq/producer-sdk';
import { type HealthServer, startHealthServer, type Worker, WorkerError, type WorkerOptions } from '@tq/worker';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { BridgeConfig } from './config.js';
import { COPY_CONSUMER, createForwarder } from './forward.js';
import { createIngest, type Ingest } from './ingest.js';
import { type BridgeMetrics, createBridgeMetrics } from './metrics.js';

/** Options of `createBridge`. */
export interface BridgeOptions {
  config: BridgeConfig;
  env: TqEnvironment;
  logger: Logger;
  /** Runtime options of the forwarding workers (timeouts, status, region, endpoint…). */
  worker?: Omit<WorkerOptions<TaskName>, 'task' | 'handler' | 'http' | 'readiness' | 'metricsRegistry'>;
  /** Serve `/healthz`, `/readyz` and `/metrics` for the whole bridge. Default off. */
  http?: { port: number; host?: string } | false;
  /** The producer of the ingest direction; default one from `env`. */
  producer?: Producer;
  /** Stop on SIGTERM/SIGINT. Default true. */
  handleSignals?: boolean;
}

/** A running (or startable) bridge. */
export interface Bridge extends EventEmitter<{ stopped: [] }> {
  readonly broker: BrokerConnection;
  /** One forwarding worker per task type (none in `ingest` mode). */
  readonly workers: readonly Worker[];
  readonly ingest: Ingest | undefined;
  readonly metrics: BridgeMetrics;
  readonly registry: Registry;
  /** Connected to the broker and every worker ready: what `/readyz` reports. */
  readonly ready: boolean;
  readonly http: { port: number; host: string } | undefined;
  start(): Promise<void>;
  /** Drains: running forwards finish (or are released), ingest messages in hand are finished, then the connection closes. */
  stop(): Promise<void>;
}

/** A forwarding worker per task type (SQS → ActiveMQ), with Camel's polling settings. */
function createForwarders(
  options: BridgeOptions,
  broker: BrokerConnection,
  metrics: BridgeMetrics,
  registry: Registry,
): ReturnType<typeof createForwarder>[] {
  const { config, env, logger } = options;
  return config.tasks.map((task) =>
    createForwarder({
      task,
      broker,
      destination: config.destinations[task] as string,
      body: config.body,
      metrics,
      worker: {
        region: env.region,
        prefix: env.prefix,
        ...(env.endpoint ? { endpoint: env.endpoint } : {}),
        logger,
        ...options.worker,
        // Camel's maxMessagesPerPoll, concurrentConsumers and delay.
        batchSize: config.maxMessagesPerPoll,
        pollers: config.consumers,
        concurrency: config.concurrency,
        emptyReceiveDelayMs: config.pollDelayMs,
        metricsRegistry: registry,
        registry: config.registry,
        handleSignals: false,
        http: false,
      },
    }),
  );
}

/** Starts every forwarder; a missing copy queue says how to provision it. */
async function startForwarders(workers: ReturnType<typeof createForwarder>[], prefix: string): Promise<void> {
  await Promise.all(
    workers.map((worker) =>
      worker.start().catch((error: unknown) => {
        if (error instanceof WorkerError && error.code === 'QUEUE_NOT_FOUND') {
          throw new WorkerError(
            'QUEUE_NOT_FOUND',
            `the bridge's copy queue ${copyQueueName(prefix, worker.task, COPY_CONSUMER)} does not exist: run \`tq provision\` with TQ_ACTIVEMQ_URL (and TQ_ACTIVEMQ_TASKS) set as for the bridge`,
            { cause: error },
          );
        }
        throw error;
      }),
    ),
  );
}

/**
 * The ActiveMQ bridge: the broker connection, a forwarding worker per task type (SQS → ActiveMQ)
 * and the ingest consumer (ActiveMQ → tq), one health and metrics server for all of them.
 */
export function createBridge(options: BridgeOptions): Bridge {
  const { config, env, logger } = options;
  const registry = new Registry();
  const broker = new BrokerConnection({
    url: config.url,
    ...(config.login !== undefined ? { login: config.login } : {}),
    ...(config.passcode !== undefined ? { passcode: config.passcode } : {}),
    receiptTimeoutMs: config.receiptTimeoutMs,
    reconnectDelayMs: config.reconnectDelayMs,
    maxReconnectDelayMs: config.maxReconnectDelayMs,
    logger,
  });
  const metrics = createBridgeMetrics(registry, broker);
  const forwarding = config.mode !== 'ingest';
  const workers = forwarding ? createForwarders(options, broker, metrics, registry) : [];
  let producer = options.producer;
  const ownsProducer = producer === undefined;
  let ingest: Ingest | undefined;
  if (config.mode !== 'forward') {
    producer ??= createProducer({
      registry: config.registry,
      region: env.region,
      prefix: env.prefix,
      ...(env.endpoint ? { endpoint: env.endpoint } : {}),
    });
    ingest = createIngest({
      broker,
      registry: config.registry,
      producer,
      queue: config.ingestQueue,
      deadLetterQueue: config.ingestDeadLetterQueue,
      prefetch: config.ingestPrefetch,
      metrics,
      logger: logger.child({ direction: 'ingest' }),
    });
  }

  let health: HealthServer | undefined;
  let state: 'idle' | 'running' | 'stopped' = 'idle';
  let stopping: Promise<void> | undefined;
  const shutdownGraceMs = options.worker?.shutdownGraceMs ?? 25_000;
  const signals = options.handleSignals !== false;
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received: draining the bridge');
    void bridge.stop();
  };

  const bridge: Bridge = Object.assign(new EventEmitter<{ stopped: [] }>(), {
    broker,
    workers,
    ingest,
    metrics,
    registry,
    async start() {
      if (state !== 'idle') throw new Error('the bridge was already started');
      state = 'running';
      broker.start();
      logger.info(
        {
          broker: broker.address.display,
          mode: config.mode,
          destinations: forwarding ? config.destinations : undefined,
        },
        'ActiveMQ bridge starting',
      );
      try {
        await startForwarders(workers, env.prefix);
        ingest?.start();
        if (options.http) {
          health = await startHealthServer({ live: () => state !== 'stopped', ready: () => bridge.ready }, registry, {
            port: options.http.port,
            host: options.http.host ?? '127.0.0.1',
          });
          logger.info({ http: `http://${health.host}:${health.port}` }, 'health and metrics served');
        }
      } catch (error) {
        await bridge.stop();
        throw error;
      }
      if (signals) {
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      }
    },
    stop() {
      stopping ??= (async () => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await Promise.all([...workers.map((worker) => worker.stop()), ingest?.stop(shutdownGraceMs)]);
        if (ownsProducer) await producer?.close();
        await broker.close();
        await health?.close();
        state = 'stopped';
        logger.info('ActiveMQ bridge stopped');
        bridge.emit('stopped');
      })();
      return stopping;
    },
  }) as unknown as Bridge;
  // Getters defined, not assigned (Object.assign would copy their value once).
  Object.defineProperties(bridge, {
    ready: { get: () => state === 'running' && broker.connected && workers.every((worker) => worker.ready) },
    http: { get: () => (health ? { port: health.port, host: health.host } : undefined) },
  });
  return bridge;
}
