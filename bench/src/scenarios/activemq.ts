import { fileURLToPath } from 'node:url';
import { Client } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';
import { BrokerConnection, queueStatistics } from '@tq/activemq';
import { createBridgeMetrics, createForwarder } from '@tq/activemq-bridge';
import { createTask, encodeMessageBody } from '@tq/contracts';
import type { AwsClientConfig } from '@tq/testing';
import { type ActiveMq, startActiveMq } from '@tq/testing';
import { createWorker } from '@tq/worker';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  createQueues,
  deleteQueues,
  drainWithWorker,
  preload,
  rawConsumerLoop,
  remaining,
  type Scenario,
} from '../lib.js';

interface Config {
  clientConfig: AwsClientConfig;
  queueUrl: string;
  dlqUrl: string;
  stompUrl: string;
  destination: string;
  /** The envelopes as SQS holds them, and as the bridge sends them to ActiveMQ. */
  bodies: string[];
  concurrency: number;
  contender: string;
}

const BROKER_CONFIG = fileURLToPath(new URL('../../../apps/activemq-bridge/activemq.xml', import.meta.url));
/** The broker of each run, by STOMP URL: started in `prepare`, stopped in `verify` (the orchestrator). */
const brokers = new Map<string, ActiveMq>();
const COUNT = 10_000;
/** The same worker settings with a handler that does nothing: the queue side's ceiling here. */
const RUNTIME_ONLY = 'tq worker, no-op handler';
/** What a team writes instead: receive 10, send each persistent with a receipt, delete the batch. */
const RAW_BRIDGE = 'hand-rolled bridge (receive → send → delete)';
/** Camel's concurrentConsumers × maxMessagesPerPoll: the bridge's default concurrency. */
const CONCURRENCY = 50;

/** A @stomp/stompjs client connected to the run's broker, and a persistent send that waits for its receipt. */
async function stompClient(config: Config) {
  const { hostname, port } = new URL(config.stompUrl);
  const client = new Client({
    webSocketFactory: () => new TCPWrapper(hostname, Number(port)),
    reconnectDelay: 0,
    debug: () => {},
  });
  await new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (frame) => reject(new Error(frame.headers.message));
    client.activate();
  });
  let next = 0;
  const send = (destination: string, body: string) =>
    new Promise<void>((resolve) => {
      const receipt = `r${next++}`;
      client.watchForReceipt(receipt, () => resolve());
      client.publish({
        destination,
        body,
        headers: { persistent: 'true', receipt, 'content-type': 'application/json' },
        skipContentLengthHeader: true,
      });
    });
  return { client, send };
}

/** The bare loop: @stomp/stompjs alone, `concurrency` persistent sends awaiting their receipts at once. */
async function stompLoop(config: Config): Promise<void> {
  const { client, send } = await stompClient(config);
  let next = 0;
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      while (next < config.bodies.length) {
        const body = config.bodies[next] as string;
        next += 1;
        await send(config.destination, body);
      }
    }),
  );
  await client.deactivate();
}

/**
 * Tasks/s through the ActiveMQ bridge (SQS → persistent STOMP send with a receipt → delete),
 * against the same envelopes sent by a bare @stomp/stompjs loop at the same concurrency (no
 * queue at all: the ceiling of the broker side alone).
 */
export const activemq: Scenario<Config> = {
  name: 'activemq',
  title: 'forward 10,000 tasks to ActiveMQ (persistent, receipts), concurrency 50',
  unit: 'tasks/s',
  // The runtime alone (the same queue, a handler that does nothing) shows the SQS side's own ceiling.
  contenders: ['tq activemq-bridge', RUNTIME_ONLY, RAW_BRIDGE, 'STOMP send loop'],
  reference: 'STOMP send loop',
  referenceNote: 'the same envelopes sent persistent with receipts by a bare @stomp/stompjs loop, 50 at once, no queue',
  rounds: (context) => (context.quick ? 1 : 3),
  warmUp: true,
  async prepare(context, contender) {
    const total = context.quick ? 1000 : COUNT;
    const { queueUrl, dlqUrl } = await createQueues(context.clientConfig, 'activemq');
    const bodies = Array.from({ length: total }, (_, i) =>
      encodeMessageBody(createTask('send_email', { to: [`u${i}@example.com`], subject: `n${i}`, text: 'x' })),
    );
    await preload(context.clientConfig, queueUrl, bodies);
    const broker = await startActiveMq({ config: BROKER_CONFIG, heap: '512m' });
    brokers.set(broker.stompUrl, broker);
    const config: Config = {
      clientConfig: context.clientConfig,
      queueUrl,
      dlqUrl,
      stompUrl: broker.stompUrl,
      destination: `/queue/bench.${queueUrl.split('/').at(-1)}`,
      bodies,
      concurrency: CONCURRENCY,
      contender,
    };
    // A broker runs for months; a fresh JVM spends its first seconds compiling the send path,
    // on the same two cores as the contender. The same persistent sends, to a queue of their
    // own, bring it to the state a running broker is in before any contender is measured.
    await stompLoop({ ...config, destination: '/queue/bench.warm-up' });
    return config;
  },
  async run(contender, config) {
    const started = performance.now();
    if (contender === 'STOMP send loop') {
      await stompLoop(config);
      return { value: config.bodies.length / ((performance.now() - started) / 1000) };
    }
    if (contender === RAW_BRIDGE) {
      const { client, send } = await stompClient(config);
      const value = await rawConsumerLoop({
        clientConfig: config.clientConfig,
        queueUrl: config.queueUrl,
        count: config.bodies.length,
        // Camel's 5 consumers of 10 messages: 50 sends out at once, as for the bridge.
        pollers: config.concurrency / 10,
        started,
        handle: (body) => send(config.destination, body),
      });
      await client.deactivate();
      return { value };
    }
    const runtime = {
      endpoint: config.clientConfig.endpoint,
      region: config.clientConfig.region,
      queueUrl: config.queueUrl,
      deadLetterQueueUrl: config.dlqUrl,
      // The bridge's defaults: Camel's maxMessagesPerPoll, concurrentConsumers, their product.
      batchSize: 10,
      pollers: 5,
      concurrency: config.concurrency,
      waitTimeSeconds: 1,
      logger: pino({ level: 'silent' }),
      handleSignals: false,
    };
    const broker = new BrokerConnection({ url: config.stompUrl });
    if (contender !== RUNTIME_ONLY) {
      broker.start();
      await broker.waitConnected();
    }
    const worker =
      contender === RUNTIME_ONLY
        ? createWorker({ ...runtime, task: 'send_email', handler: () => {} })
        : createForwarder({
            task: 'send_email',
            broker,
            destination: config.destination,
            metrics: createBridgeMetrics(new Registry(), broker),
            worker: runtime,
          });
    const value = await drainWithWorker(worker, config.bodies.length, started);
    await broker.close();
    return { value };
  },
  servers(config) {
    const broker = brokers.get(config.stompUrl);
    return broker ? [broker.pid] : [];
  },
  async verify(context, config) {
    const broker = brokers.get(config.stompUrl);
    try {
      // Every task is on the broker exactly as many times as sent (the bridge's sends are confirmed).
      const stats = await queueStatistics(config.stompUrl, [config.destination]);
      const enqueued = stats.get(config.destination.replace('/queue/', ''))?.enqueued ?? 0;
      // The runtime-only contender sends nothing to the broker; the hand-rolled bridge sends each once.
      const expected = config.contender === RUNTIME_ONLY ? 0 : config.bodies.length;
      if (enqueued !== expected) {
        throw new Error(`activemq: ${enqueued} messages on the broker, ${expected} expected`);
      }
      const left = await remaining(context.clientConfig, config.queueUrl);
      if (left !== 0 && left !== config.bodies.length) throw new Error(`activemq: ${left} messages left`);
    } finally {
      await broker?.stop();
      brokers.delete(config.stompUrl);
      await deleteQueues(context.clientConfig, config.queueUrl, config.dlqUrl);
    }
  },
};
