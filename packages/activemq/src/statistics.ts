import { randomUUID } from 'node:crypto';
import { BrokerConnection, BrokerError, type BrokerMessage } from './connection.js';

/** One queue's numbers, as ActiveMQ's statistics plugin reports them. */
export interface DestinationStatistics {
  /** The queue's name (without `/queue/`). */
  name: string;
  /** Messages waiting (not yet acknowledged), what `tq stats` shows as the depth. */
  size: number;
  /** Handed to a consumer and not yet acknowledged. */
  inflight: number;
  enqueued: number;
  dequeued: number;
  expired: number;
  consumers: number;
  producers: number;
}

const STATISTICS_PREFIX = 'ActiveMQ.Statistics.Destination.';

/** The queue name of a STOMP destination (`/queue/tq.send_email` → `tq.send_email`). */
export function queueNameOf(destination: string): string {
  return destination.replace(/^\/queue\//, '');
}

/**
 * A MapMessage read through `transformation: jms-map-json`:
 * `{"map":{"entry":[{"string":"size","long":3},{"string":["brokerName","tq"]},…]}}`.
 */
export function parseMapMessage(body: string): Record<string, string | number> {
  const parsed = JSON.parse(body) as { map?: { entry?: unknown } };
  const raw = parsed.map?.entry;
  const entries = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const map: Record<string, string | number> = {};
  for (const entry of entries as Record<string, unknown>[]) {
    const key = entry.string;
    if (Array.isArray(key)) {
      // A string value: ["key", "value"].
      if (typeof key[0] === 'string') map[key[0]] = String(key[1]);
      continue;
    }
    if (typeof key !== 'string') continue;
    const value = Object.entries(entry).find(([type]) => type !== 'string')?.[1];
    if (typeof value === 'number' || typeof value === 'string') map[key] = Number(value);
  }
  return map;
}

/**
 * Asks the broker's statistics plugin (`<statisticsBrokerPlugin/>`) for each queue's numbers:
 * a request to `ActiveMQ.Statistics.Destination.<name>` with a `reply-to` temporary queue, the
 * answer read as JSON. A queue the broker does not have gets no answer and is left out once
 * `timeoutMs` passed. Needs a connected `connection`.
 */
/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

export async function destinationStatistics(
  connection: BrokerConnection,
  queues: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<Map<string, DestinationStatistics>> {
  const names = queues.map(queueNameOf);
  const wanted = new Set(names);
  const results = new Map<string, DestinationStatistics>();
  if (names.length === 0) return results;
  const replyTo = `/temp-queue/tq-statistics-${randomUUID()}`;
  const { promise: done, resolve: finish } = deferred();
  const subscription = connection.subscribe(
    replyTo,
    (message) => {
      let map: Record<string, string | number>;
      try {
        map = parseMapMessage(message.body);
      } catch {
        return;
      }
      const name = String(map.destinationName ?? '').replace(/^queue:\/\//, '');
      if (!wanted.has(name)) return;
      const number = (key: string) => Number(map[key] ?? 0);
      results.set(name, {
        name,
        size: number('size'),
        inflight: number('inflightCount'),
        enqueued: number('enqueueCount'),
        dequeued: number('dequeueCount'),
        expired: number('expiredCount'),
        consumers: number('consumerCount'),
        producers: number('producerCount'),
      });
      if (results.size === wanted.size) finish();
    },
    { transformation: 'jms-map-json' },
  );
  const timer = setTimeout(finish, options.timeoutMs ?? 3000);
  try {
    // The requests need no persistence; each waits for its receipt so a refusal shows.
    await Promise.all(
      names.map((name) =>
        connection.send(`/queue/${STATISTICS_PREFIX}${name}`, '', { 'reply-to': replyTo }, { persistent: false }),
      ),
    );
    await done;
  } finally {
    clearTimeout(timer);
    subscription.unsubscribe();
  }
  return results;
}

/**
 * `destinationStatistics` over a connection of its own: connects to `url`, asks, disconnects.
 * Rejects with `BrokerError` (`NOT_CONNECTED`) when the broker does not accept a connection
 * within `connectTimeoutMs` (default 3 s), as a CLI wants.
 */
export async function queueStatistics(
  url: string,
  queues: readonly string[],
  options: { timeoutMs?: number; connectTimeoutMs?: number; login?: string; passcode?: string } = {},
): Promise<Map<string, DestinationStatistics>> {
  const connection = new BrokerConnection({
    url,
    ...(options.login !== undefined ? { login: options.login } : {}),
    ...(options.passcode !== undefined ? { passcode: options.passcode } : {}),
    connectTimeoutMs: options.connectTimeoutMs ?? 3000,
    heartbeatMs: 0,
  });
  const limit = new AbortController();
  const timer = setTimeout(
    () =>
      limit.abort(
        new BrokerError(
          'NOT_CONNECTED',
          `the broker at ${connection.address.display} did not accept a STOMP connection within ${options.connectTimeoutMs ?? 3000} ms`,
        ),
      ),
    options.connectTimeoutMs ?? 3000,
  );
  try {
    connection.start();
    await connection.waitConnected(limit.signal);
    clearTimeout(timer);
    return await destinationStatistics(connection, queues, options);
  } finally {
    clearTimeout(timer);
    await connection.close();
  }
}

/**
 * The messages on a queue right now, without taking them (ActiveMQ's `browser:true`
 * subscription): what the broker holds that no consumer has acknowledged. Resolves at the
 * broker's end-of-browse marker, or after `timeoutMs` with what came.
 */
export async function browseQueue(
  connection: BrokerConnection,
  destination: string,
  options: { timeoutMs?: number } = {},
): Promise<BrokerMessage[]> {
  const messages: BrokerMessage[] = [];
  const { promise: done, resolve: finish } = deferred();
  const subscription = connection.subscribe(
    destination,
    (message) => {
      if (message.headers.browser === 'end') return finish();
      messages.push(message);
    },
    { browser: 'true' },
  );
  const timer = setTimeout(finish, options.timeoutMs ?? 5000);
  try {
    await done;
  } finally {
    clearTimeout(timer);
    subscription.unsubscribe();
  }
  return messages;
}
