import { SQSClient } from '@aws-sdk/client-sqs';
import { type BrokerConnection, queueStatistics } from '@tq/activemq';
import { createTask, type TqEnvironment } from '@tq/contracts';
import { createProducer, type Producer } from '@tq/producer-sdk';
import {
  type ActiveMq,
  type LocalEndpoint,
  queueCounts,
  startActiveMq,
  startLocalEndpoint,
  waitForMessages,
} from '@tq/testing';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Bridge, createBridge } from '../src/bridge.js';
import {
  BROKER_CONFIG,
  bridgeConfig,
  collect,
  independentClient,
  provisionWithCopies,
  publishWithAwsCli,
  queueUrl,
  until,
} from './helpers.js';

const isEmpty = (counts: { visible: number; inFlight: number; delayed: number }) =>
  counts.visible + counts.inFlight + counts.delayed === 0;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const silent = pino({ level: 'silent' });

describe('ActiveMQ bridge against a real ActiveMQ and the local endpoint', () => {
  let endpoint: LocalEndpoint;
  let broker: ActiveMq;
  let sqs: SQSClient;
  const bridges: Bridge[] = [];
  const clients: BrokerConnection[] = [];
  const producers: Producer[] = [];

  beforeAll(async () => {
    [endpoint, broker] = await Promise.all([startLocalEndpoint(), startActiveMq({ config: BROKER_CONFIG })]);
    sqs = new SQSClient(endpoint.clientConfig);
  }, 180_000);
  afterEach(async () => {
    await Promise.all(bridges.splice(0).map((bridge) => bridge.stop()));
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(producers.splice(0).map((producer) => producer.close()));
  });
  afterAll(async () => {
    sqs?.destroy();
    await Promise.all([endpoint?.stop(), broker?.stop()]);
  });

  async function startBridge(env: TqEnvironment, vars: Record<string, string> = {}, url = broker.stompUrl) {
    const bridge = createBridge({
      config: bridgeConfig(env, url, { ACTIVEMQ_POLL_DELAY_MS: '0', ACTIVEMQ_RECONNECT_DELAY_MS: '100', ...vars }),
      env,
      logger: silent,
      handleSignals: false,
      http: { port: 0 },
      worker: { waitTimeSeconds: 1, retry: { baseSeconds: 0 } },
    });
    bridges.push(bridge);
    await bridge.start();
    return bridge;
  }

  function client() {
    const connection = independentClient(broker.stompUrl);
    clients.push(connection);
    return connection;
  }

  function producerFor(env: TqEnvironment) {
    const producer = createProducer({ endpoint: env.endpoint as string, region: env.region, prefix: env.prefix });
    producers.push(producer);
    return producer;
  }

  it('forwards the original flat message and an envelope: persistent JSON text, tq headers, workers keep their copy', async () => {
    const { prefix, env } = await provisionWithCopies(endpoint);
    await startBridge(env);
    const consumer = client();
    const arriving = collect(consumer, `/queue/${prefix}.send_email`, (messages) => messages.length === 2);

    const { id } = await producerFor(env).send(
      'send_email',
      { to: ['ada@example.com'], subject: 'envelope', text: 'hi' },
      { traceparent: TRACEPARENT },
    );
    const topicArn = `arn:aws:sns:${endpoint.region}:000000000000:${prefix}-tasks`;
    const flat = { task: 'send_email', to: 'bob@example.com', subject: 'flat', body: 'from the seed article' };
    await publishWithAwsCli(endpoint, topicArn, 'send_email', flat);

    const messages = await arriving;
    const byBody = new Map(messages.map((message) => [JSON.parse(message.body).payload.subject, message]));
    const envelope = byBody.get('envelope');
    expect(JSON.parse(envelope?.body ?? '')).toMatchObject({
      id,
      task: 'send_email',
      version: 1,
      traceparent: TRACEPARENT,
      payload: { to: ['ada@example.com'], subject: 'envelope', text: 'hi' },
    });
    expect(envelope?.headers).toMatchObject({
      persistent: 'true',
      'content-type': 'application/json',
      tq_task: 'send_email',
      tq_task_id: id,
      tq_version: '1',
      tq_attempt: '1',
      traceparent: TRACEPARENT,
    });
    // A text message (JMS TextMessage): no content-length.
    expect(envelope?.headers['content-length']).toBeUndefined();
    const fromFlat = byBody.get('flat');
    expect(JSON.parse(fromFlat?.body ?? '').payload).toMatchObject({
      to: ['bob@example.com'],
      text: 'from the seed article',
    });
    expect(fromFlat?.headers).toMatchObject({ persistent: 'true', tq_task: 'send_email' });

    // Fan-out: the email workers' own queue got both tasks as well; the bridge's copy queue is empty.
    const own = await queueUrl(sqs, `${prefix}-send_email`);
    expect(await waitForMessages(sqs, own, 2)).toHaveLength(2);
    const copy = await queueUrl(sqs, `${prefix}-send_email-activemq`);
    await until(async () => isEmpty(await queueCounts(sqs, copy)), 'the copy queue to drain');
  }, 180_000);

  it('offers the flat form and destinations of your choosing', async () => {
    const { prefix, env } = await provisionWithCopies(endpoint);
    const destination = `/queue/${prefix}.legacy.mail`;
    await startBridge(env, { ACTIVEMQ_BODY: 'flat', ACTIVEMQ_DESTINATIONS: `send_email=${prefix}.legacy.mail` });
    const arriving = collect(client(), destination, (messages) => messages.length === 1);
    const { id } = await producerFor(env).send('send_email', {
      to: ['ada@example.com'],
      subject: 'legacy',
      text: 'for the old consumer',
    });
    const [message] = await arriving;
    expect(JSON.parse(message?.body ?? '')).toEqual({
      task: 'send_email',
      to: 'ada@example.com',
      subject: 'legacy',
      body: 'for the old consumer',
    });
    expect(message?.headers).toMatchObject({ tq_task_id: id, persistent: 'true' });
  }, 180_000);

  it('brings valid tasks from ActiveMQ into tq through SNS, and dead-letters invalid ones with the reason', async () => {
    const { prefix, env } = await provisionWithCopies(endpoint);
    await startBridge(env, { ACTIVEMQ_MODE: 'ingest' });
    const jms = client();
    await jms.waitConnected();
    const ingest = `/queue/${prefix}.ingest`;
    const envelope = createTask('generate_report', {
      title: 'Sales',
      rows: [{ region: 'north', total: 3 }],
      columns: [{ key: 'region' }, { key: 'total', format: 'number' }],
      destination: 's3://tq-artifacts/reports/sales.pdf',
    });
    await jms.send(ingest, JSON.stringify(envelope), { 'content-type': 'application/json' });
    await jms.send(ingest, JSON.stringify({ task: 'send_email', to: 'ada@example.com', subject: 'flat', body: 'x' }));
    await jms.send(ingest, JSON.stringify({ to: ['bob@example.com'], subject: 'bare', text: 'y' }), {
      tq_task: 'send_email',
    });
    await jms.send(ingest, JSON.stringify({ task: 'send_email', to: 'not-an-address', subject: 'bad' }), {
      custom: 'kept',
    });
    await jms.send(ingest, 'this is not json');
    await jms.send(ingest, JSON.stringify({ task: 'launch_rockets' }));

    const reports = await waitForMessages(sqs, await queueUrl(sqs, `${prefix}-generate_report`), 1);
    expect(JSON.parse(reports[0]?.Body as string)).toMatchObject({ id: envelope.id, payload: envelope.payload });
    const mails = await waitForMessages(sqs, await queueUrl(sqs, `${prefix}-send_email`), 2);
    expect(mails.map((mail) => JSON.parse(mail.Body as string).payload.subject).sort()).toEqual(['bare', 'flat']);

    const dead = await collect(jms, `/queue/${prefix}.ingest.dlq`, (messages) => messages.length === 3);
    const codes = dead.map((message) => message.headers.tq_error_code).sort();
    expect(codes).toEqual(['INVALID_JSON', 'SCHEMA_VIOLATION', 'UNKNOWN_TASK']);
    const invalid = dead.find((message) => message.headers.tq_error_code === 'SCHEMA_VIOLATION');
    expect(invalid?.headers.tq_error_reason).toMatch(/\/to/);
    expect(invalid?.headers).toMatchObject({ custom: 'kept', persistent: 'true', tq_source: ingest });
    expect(invalid?.body).toContain('not-an-address');
    // Every message was acknowledged once handled: nothing is left on the ingest queue.
    await until(
      async () => (await queueStatistics(broker.stompUrl, [ingest])).get(`${prefix}.ingest`)?.size === 0,
      'the ingest queue to be empty',
    );
  }, 180_000);
});

describe('ActiveMQ bridge across a broker crash', () => {
  it('loses nothing: not ready while the broker is down, resumes by itself, every task arrives', async () => {
    const endpoint = await startLocalEndpoint();
    const sqs = new SQSClient(endpoint.clientConfig);
    let broker = await startActiveMq({ config: BROKER_CONFIG });
    const { stompPort, openwirePort, dataDir } = broker;
    const { prefix, env } = await provisionWithCopies(endpoint);
    const bridge = createBridge({
      config: bridgeConfig(env, broker.stompUrl, { ACTIVEMQ_POLL_DELAY_MS: '0', ACTIVEMQ_RECONNECT_DELAY_MS: '100' }),
      env,
      logger: silent,
      handleSignals: false,
      http: { port: 0 },
      worker: { waitTimeSeconds: 1, retry: { baseSeconds: 0 } },
    });
    const producer = createProducer({ endpoint: endpoint.endpoint, region: endpoint.region, prefix });
    try {
      await bridge.start();
      await until(() => bridge.ready, 'the bridge to be ready');
      const readyz = async () => (await fetch(`http://127.0.0.1:${bridge.http?.port}/readyz`)).status;
      expect(await readyz()).toBe(200);
      const total = 60;
      const ids = new Set<string>();
      const send = async (count: number) => {
        for (let i = 0; i < count; i++) {
          const { id } = await producer.send('send_email', {
            to: ['ada@example.com'],
            subject: `n${ids.size}`,
            text: 'x',
          });
          ids.add(id);
        }
      };
      const forwarded = () =>
        bridge.metrics.forwarded.get().then((metric) => metric.values.reduce((sum, v) => sum + v.value, 0));
      await send(20);
      await until(async () => (await forwarded()) >= 10, 'some tasks to be forwarded');
      await broker.kill();
      await until(() => !bridge.ready, 'the bridge to notice');
      expect(await readyz()).toBe(503);
      await send(total - 20);
      broker = await startActiveMq({ config: BROKER_CONFIG, stompPort, openwirePort, dataDir });
      await until(() => bridge.ready, 'the bridge to reconnect');
      expect(bridge.broker.reconnects).toBeGreaterThanOrEqual(1);

      const consumer = independentClient(broker.stompUrl);
      const seen = new Map<string, number>();
      await collect(consumer, `/queue/${prefix}.send_email`, (messages) => {
        const last = messages.at(-1);
        const id = last?.headers.tq_task_id as string;
        seen.set(id, (seen.get(id) ?? 0) + 1);
        return [...ids].every((wanted) => seen.has(wanted));
      });
      await consumer.close();
      expect([...seen.keys()].sort()).toEqual([...ids].sort());
      // At-least-once: a send that was in flight when the broker died may arrive twice, no more.
      expect(Math.max(...seen.values())).toBeLessThanOrEqual(2);
      const copy = await queueUrl(sqs, `${prefix}-send_email-activemq`);
      const dlq = await queueUrl(sqs, `${prefix}-send_email-activemq-dlq`);
      await until(async () => isEmpty(await queueCounts(sqs, copy)), 'the copy queue to drain');
      expect(isEmpty(await queueCounts(sqs, dlq))).toBe(true);
      const metrics = await bridge.registry.metrics();
      expect(metrics).toMatch(/tq_activemq_connected 1/);
      expect(metrics).toMatch(/tq_activemq_reconnects_total [1-9]/);
    } finally {
      await bridge.stop();
      await producer.close();
      sqs.destroy();
      await Promise.all([endpoint.stop(), broker.stop()]);
    }
  }, 400_000);
});
