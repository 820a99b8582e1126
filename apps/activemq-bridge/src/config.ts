import { parseBrokerUrl, parseDestination, readDestinations } from '@tq/activemq';
import { ConfigError, type TaskName, type TaskRegistry, type TqEnvironment } from '@tq/contracts';
import { envNumber, envString } from '@tq/worker';

/** Which way the bridge carries tasks. */
export type BridgeMode = 'forward' | 'ingest' | 'both';
/** What a forwarded message's body holds. */
export type BridgeBody = 'envelope' | 'flat';

/** The bridge's configuration (the README lists each variable with its Camel counterpart). */
export interface BridgeConfig {
  /** `TQ_ACTIVEMQ_URL`: the broker's STOMP connector. */
  url: string;
  login: string | undefined;
  passcode: string | undefined;
  mode: BridgeMode;
  /** The project's task types (its tq.config.ts): what is forwarded and what ingest accepts. */
  registry: TaskRegistry;
  /** Task types forwarded to ActiveMQ (`TQ_ACTIVEMQ_TASKS`, default all of the project's). */
  tasks: TaskName[];
  /** STOMP destination per forwarded task (`ACTIVEMQ_DESTINATIONS`, default `/queue/<prefix>.<task>`). */
  destinations: Record<string, string>;
  body: BridgeBody;
  /** Camel `delay`: pause after an empty poll, ms. */
  pollDelayMs: number;
  /** Camel `concurrentConsumers`: receive calls in flight per task queue. */
  consumers: number;
  /** Camel `maxMessagesPerPoll`: messages per receive (1-10, SQS's limit). */
  maxMessagesPerPoll: number;
  /** Messages forwarded at once per task queue (default consumers × maxMessagesPerPoll). */
  concurrency: number;
  /** Ingest: the ActiveMQ queue JMS/STOMP producers put tasks on. */
  ingestQueue: string;
  /** Ingest: where invalid tasks go, with the reason as a header. */
  ingestDeadLetterQueue: string;
  /** Ingest: messages the broker hands out unacknowledged at once. */
  ingestPrefetch: number;
  /** How long a send waits for the broker's receipt. */
  receiptTimeoutMs: number;
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the bridge's environment: `TQ_ACTIVEMQ_URL`, `ACTIVEMQ_USER`/`ACTIVEMQ_PASSWORD`,
 * `ACTIVEMQ_MODE`, `TQ_ACTIVEMQ_TASKS` (through `env.activemq`), `ACTIVEMQ_DESTINATIONS`,
 * `ACTIVEMQ_BODY`, the Camel settings `ACTIVEMQ_POLL_DELAY_MS`, `ACTIVEMQ_CONSUMERS`,
 * `ACTIVEMQ_MAX_MESSAGES_PER_POLL`, and `ACTIVEMQ_INGEST_*`, for the project's tasks (`registry`).
 * Throws `ConfigError` naming the variable.
 */
export function readBridgeConfig(tq: TqEnvironment, registry: TaskRegistry, env: Env = process.env): BridgeConfig {
  const url = envString(env, 'TQ_ACTIVEMQ_URL', { describe: "the broker's STOMP URL, e.g. stomp://127.0.0.1:61613" });
  parseBrokerUrl(url);
  const names = registry.names();
  const tasks = (tq.activemq?.tasks === 'all' || !tq.activemq ? names : tq.activemq.tasks) as TaskName[];
  const unknown = tasks.find((task) => !registry.has(task));
  if (unknown) throw new ConfigError(`TQ_ACTIVEMQ_TASKS names "${unknown}", known tasks: ${names.join(', ')}`);
  const destinations = readDestinations(env, tq.prefix, tasks);
  const consumers = envNumber(env, 'ACTIVEMQ_CONSUMERS', { default: 5, min: 1, max: 100 });
  const maxMessagesPerPoll = envNumber(env, 'ACTIVEMQ_MAX_MESSAGES_PER_POLL', { default: 10, min: 1, max: 10 });
  return {
    url,
    login: env.ACTIVEMQ_USER || undefined,
    passcode: env.ACTIVEMQ_PASSWORD || undefined,
    registry,
    mode: envString(env, 'ACTIVEMQ_MODE', {
      default: 'both',
      pattern: /^(forward|ingest|both)$/,
      describe: 'forward, ingest or both',
    }) as BridgeMode,
    tasks,
    destinations,
    body: envString(env, 'ACTIVEMQ_BODY', {
      default: 'envelope',
      pattern: /^(envelope|flat)$/,
      describe: 'envelope or flat',
    }) as BridgeBody,
    pollDelayMs: envNumber(env, 'ACTIVEMQ_POLL_DELAY_MS', { default: 5000, min: 0, max: 600_000 }),
    consumers,
    maxMessagesPerPoll,
    concurrency: envNumber(env, 'ACTIVEMQ_CONCURRENCY', {
      default: consumers * maxMessagesPerPoll,
      min: 1,
      max: 10_000,
    }),
    ingestQueue: parseDestination(env.ACTIVEMQ_INGEST_QUEUE || `${tq.prefix}.ingest`, 'ACTIVEMQ_INGEST_QUEUE'),
    ingestDeadLetterQueue: parseDestination(
      env.ACTIVEMQ_INGEST_DLQ || `${tq.prefix}.ingest.dlq`,
      'ACTIVEMQ_INGEST_DLQ',
    ),
    ingestPrefetch: envNumber(env, 'ACTIVEMQ_INGEST_PREFETCH', { default: 10, min: 1, max: 1000 }),
    receiptTimeoutMs: envNumber(env, 'ACTIVEMQ_RECEIPT_TIMEOUT_MS', { default: 30_000, min: 100, max: 600_000 }),
    reconnectDelayMs: envNumber(env, 'ACTIVEMQ_RECONNECT_DELAY_MS', { default: 250, min: 10, max: 60_000 }),
    maxReconnectDelayMs: envNumber(env, 'ACTIVEMQ_MAX_RECONNECT_DELAY_MS', { default: 30_000, min: 10, max: 600_000 }),
  };
}
