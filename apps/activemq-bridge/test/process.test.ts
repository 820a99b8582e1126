import { fileURLToPath } from 'node:url';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createProducer } from '@tq/producer-sdk';
import { spawnTs, startActiveMq, startLocalEndpoint, waitForExit, waitForOutput } from '@tq/testing';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { createBridge } from '../src/bridge.js';
import { BROKER_CONFIG, bridgeConfig, collect, independentClient, provisionWithCopies, until } from './helpers.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

it('SIGTERM drains: with sends unconfirmed by a frozen broker the bridge exits 0, and every task still arrives', async () => {
  const endpoint = await startLocalEndpoint();
  const sqs = new SQSClient(endpoint.clientConfig);
  const broker = await startActiveMq({ config: BROKER_CONFIG });
  const { prefix, env } = await provisionWithCopies(endpoint);
  const producer = createProducer({ endpoint: endpoint.endpoint, region: endpoint.region, prefix });
  const child = spawnTs(main, [], {
    TQ_ENDPOINT: endpoint.endpoint,
    AWS_REGION: endpoint.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    TQ_PREFIX: prefix,
    TQ_ACTIVEMQ_URL: broker.stompUrl,
    TQ_ACTIVEMQ_TASKS: 'send_email',
    ACTIVEMQ_MODE: 'forward',
    ACTIVEMQ_POLL_DELAY_MS: '0',
    TQ_HTTP_PORT: '0',
    TQ_STATUS: 'off',
    TQ_SHUTDOWN_GRACE_MS: '1000',
    TQ_ABORT_WAIT_MS: '2000',
  });
  let frozen = false;
  try {
    const [, http] = (await waitForOutput(
      child,
      /"http":"(http:\/\/[^"]+)"[^\n]*health and metrics served/,
    )) as string[];
    await until(async () => (await fetch(`${http}/readyz`)).status === 200, 'the bridge to be ready');
    const ids: string[] = [];
    const send = async (count: number) => {
      for (let i = 0; i < count; i++) {
        ids.push((await producer.send('send_email', { to: ['ada@example.com'], subject: `n${i}`, text: 'x' })).id);
      }
    };
    const consumer = independentClient(broker.stompUrl);
    const first = new Set<string>();
    await send(10);
    await collect(consumer, `/queue/${prefix}.send_email`, (messages) => {
      first.add(messages.at(-1)?.headers.tq_task_id as string);
      return first.size === 10;
    });
    await consumer.close();

    // Freeze the broker: the next sends get no receipt, so they are in flight when SIGTERM comes.
    process.kill(broker.pid, 'SIGSTOP');
    frozen = true;
    await send(5);
    await until(async () => {
      const text = await (await fetch(`${http}/metrics`)).text();
      return /tq_tasks_in_flight\{task="send_email"\} 5/.test(text);
    }, 'five sends in flight');
    child.kill('SIGTERM');
    expect(await waitForExit(child)).toEqual({ code: 0, signal: null });
    expect(child.output()).toMatch(/ActiveMQ bridge stopped/);
    process.kill(broker.pid, 'SIGCONT');
    frozen = false;

    // A new bridge takes the released messages: every task reaches ActiveMQ (at least once).
    const next = createBridge({
      config: bridgeConfig(env, broker.stompUrl, { ACTIVEMQ_MODE: 'forward', ACTIVEMQ_POLL_DELAY_MS: '0' }),
      env,
      logger: pino({ level: 'silent' }),
      handleSignals: false,
      worker: { waitTimeSeconds: 1, status: false },
    });
    await next.start();
    const reader = independentClient(broker.stompUrl);
    const seen = new Set(first);
    try {
      await collect(reader, `/queue/${prefix}.send_email`, (messages) => {
        seen.add(messages.at(-1)?.headers.tq_task_id as string);
        return ids.every((id) => seen.has(id));
      });
    } finally {
      await reader.close();
      await next.stop();
    }
    expect([...seen].sort()).toEqual([...ids].sort());
  } finally {
    if (frozen) process.kill(broker.pid, 'SIGCONT');
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await producer.close();
    sqs.destroy();
    await Promise.all([broker.stop(), endpoint.stop()]);
  }
}, 400_000);
