import { fileURLToPath } from 'node:url';
import { type ActiveMq, startActiveMq } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BrokerConnection,
  type BrokerMessage,
  browseQueue,
  destinationStatistics,
  isBrokerError,
  parseBrokerUrl,
  parseMapMessage,
  queueStatistics,
} from '../src/index.js';

const config = fileURLToPath(new URL('../../../apps/activemq-bridge/activemq.xml', import.meta.url));

/** Resolves with the first `count` messages of `destination`, acking each (an independent consumer). */
function consume(connection: BrokerConnection, destination: string, count: number): Promise<BrokerMessage[]> {
  return new Promise((resolve) => {
    const got: BrokerMessage[] = [];
    const subscription = connection.subscribe(
      destination,
      (message) => {
        got.push(message);
        message.ack();
        if (got.length === count) {
          subscription.unsubscribe();
          resolve(got);
        }
      },
      { ack: 'client-individual' },
    );
  });
}

function connectionTo(
  broker: ActiveMq | string,
  options: Partial<ConstructorParameters<typeof BrokerConnection>[0]> = {},
) {
  const connection = new BrokerConnection({
    url: typeof broker === 'string' ? broker : broker.stompUrl,
    reconnectDelayMs: 100,
    maxReconnectDelayMs: 1000,
    ...options,
  });
  connection.start();
  return connection;
}

describe('parseBrokerUrl', () => {
  it('reads stomp and stomp+ssl URLs with credentials and default ports', () => {
    expect(parseBrokerUrl('stomp://127.0.0.1')).toMatchObject({ host: '127.0.0.1', port: 61613, tls: false });
    expect(parseBrokerUrl('stomp+ssl://admin:s%40cret@mq.example.com')).toMatchObject({
      host: 'mq.example.com',
      port: 61612,
      tls: true,
      login: 'admin',
      passcode: 's@cret',
      display: 'stomp+ssl://admin:***@mq.example.com',
    });
  });
  it('names the variable and hides the password when the URL is wrong', () => {
    expect(() => parseBrokerUrl('http://u:pw@host:1')).toThrow(
      /TQ_ACTIVEMQ_URL is "http:\/\/u:\*\*\*@host:1", must be stomp/,
    );
    expect(() => parseBrokerUrl('localhost:61613')).toThrow(/must be stomp/);
    expect(() => parseBrokerUrl('not a url', 'X')).toThrow(/^X is "not a url"/);
  });
});

describe('parseMapMessage', () => {
  it('reads the JSON form of a MapMessage, string and number entries', () => {
    const body = JSON.stringify({
      map: {
        entry: [
          { string: 'size', long: 3 },
          { string: ['destinationName', 'queue://tq.send_email'] },
          { string: 'averageEnqueueTime', double: 1.5 },
        ],
      },
    });
    expect(parseMapMessage(body)).toEqual({
      size: 3,
      destinationName: 'queue://tq.send_email',
      averageEnqueueTime: 1.5,
    });
    expect(parseMapMessage(JSON.stringify({ map: { entry: { string: 'size', int: 1 } } }))).toEqual({ size: 1 });
  });
});

describe('BrokerConnection against ActiveMQ', () => {
  let broker: ActiveMq;
  beforeAll(async () => {
    broker = await startActiveMq({ config, queues: ['send_email'] });
  }, 180_000);
  afterAll(async () => {
    await broker?.stop();
  });

  it('sends persistent text messages confirmed by receipt; headers arrive as given', async () => {
    const producer = connectionTo(broker);
    const consumer = connectionTo(broker);
    await Promise.all([producer.waitConnected(), consumer.waitConnected()]);
    const body = JSON.stringify({ task: 'send_email', text: 'héllo: a\nb' });
    await producer.send('/queue/test.basic', body, {
      tq_task: 'send_email',
      traceparent: '00-abc-def-01',
      odd: 'a:b\nc',
    });
    const [message] = await consume(consumer, '/queue/test.basic', 1);
    expect(message?.body).toBe(body);
    expect(message?.headers).toMatchObject({ persistent: 'true', tq_task: 'send_email', odd: 'a:b\nc' });
    // No content-length: ActiveMQ made it a TextMessage (a BytesMessage would carry content-length).
    expect(message?.headers['content-length']).toBeUndefined();
    await Promise.all([producer.close(), consumer.close()]);
  });

  it('rejects sends while not connected, naming the broker', async () => {
    const connection = new BrokerConnection({ url: broker.stompUrl });
    await expect(connection.send('/queue/x', 'y')).rejects.toSatisfy(
      (error) => isBrokerError(error, 'NOT_CONNECTED') && /not connected to the broker at stomp:/.test(String(error)),
    );
    await connection.close();
  });

  it('reports queue statistics from the statistics plugin, leaving out unknown queues', async () => {
    const connection = connectionTo(broker);
    await connection.waitConnected();
    for (let i = 0; i < 3; i++) await connection.send('/queue/test.stats', `m${i}`);
    // Known queues answer: the call ends once both did (a busy machine's broker may take seconds).
    const stats = await destinationStatistics(connection, ['/queue/test.stats', 'tq.send_email'], {
      timeoutMs: 60_000,
    });
    expect(stats.get('test.stats')).toMatchObject({ name: 'test.stats', size: 3, enqueued: 3, consumers: 0 });
    // Declared at start (startActiveMq's queues, at activemq.xml's marker): there before any message.
    expect(stats.get('tq.send_email')).toMatchObject({ size: 0 });
    // An unknown queue never answers: the call ends at its timeout without it, however long that is.
    const unknown = await destinationStatistics(connection, ['no.such.queue'], { timeoutMs: 1000 });
    expect(unknown.has('no.such.queue')).toBe(false);
    await connection.close();
    // Browsing reads without taking.
    const browser = connectionTo(broker);
    await browser.waitConnected();
    const browsed = await browseQueue(browser, '/queue/test.stats');
    expect(browsed.map((message) => message.body)).toEqual(['m0', 'm1', 'm2']);
    await browser.close();
    const again = await queueStatistics(broker.stompUrl, ['test.stats'], {
      timeoutMs: 60_000,
      connectTimeoutMs: 60_000,
    });
    expect(again.get('test.stats')?.size).toBe(3);
  });

  it('queueStatistics fails fast when no broker listens', async () => {
    await expect(queueStatistics('stomp://127.0.0.1:1', ['x'], { connectTimeoutMs: 500 })).rejects.toThrow(
      /did not accept a STOMP connection/,
    );
  });
});

describe('BrokerConnection across a broker restart', () => {
  it('fails unconfirmed sends, reconnects with backoff, resubscribes, and persistent messages survive', async () => {
    const first = await startActiveMq({ config });
    const { stompPort, openwirePort, dataDir } = first;
    const connection = connectionTo(first);
    const events: string[] = [];
    connection.on('connected', ({ reconnect }) => events.push(reconnect ? 'reconnected' : 'connected'));
    connection.on('disconnected', () => events.push('disconnected'));
    await connection.waitConnected();
    const received: string[] = [];
    connection.subscribe(
      '/queue/test.restart.out',
      (message) => {
        received.push(message.body);
        message.ack();
      },
      { ack: 'client-individual' },
    );
    await connection.send('/queue/test.restart', 'stored before the crash');
    await first.kill();
    await expect(connection.send('/queue/test.restart', 'x')).rejects.toSatisfy((error) =>
      isBrokerError(error, 'NOT_CONNECTED', 'DISCONNECTED'),
    );
    expect(connection.connected).toBe(false);
    const second = await startActiveMq({ config, stompPort, openwirePort, dataDir });
    try {
      await connection.waitConnected();
      expect(connection.reconnects).toBe(1);
      expect(events).toEqual(['connected', 'disconnected', 'reconnected']);
      // The persistent message outlived the crash.
      const [kept] = await consume(connection, '/queue/test.restart', 1);
      expect(kept?.body).toBe('stored before the crash');
      // The subscription made before the crash was made again on the new connection.
      await connection.send('/queue/test.restart.out', 'after');
      await expect.poll(() => received, { timeout: 30_000 }).toEqual(['after']);
    } finally {
      await connection.close();
      await second.stop();
    }
  }, 300_000);
});
