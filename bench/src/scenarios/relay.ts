import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTask, encodeMessageBody } from '@tq/contracts';
import { createRelayWorker } from '@tq/http-relay';
import type { AwsClientConfig } from '@tq/testing';
import { createWorker } from '@tq/worker';
import { pino } from 'pino';
import { Pool } from 'undici';
import {
  createQueues,
  deleteQueues,
  drainWithWorker,
  preload,
  rawConsumerLoop,
  remaining,
  type Scenario,
} from '../lib.js';

/** The same worker with the endpoint's wait as an in-process handler: the queue side's own ceiling. */
const RUNTIME_ONLY = 'tq worker, same wait in-process';
/** The relay with one batch received ahead of a free slot (`TQ_PREFETCH=10`). */
const RELAY_PREFETCH = 'tq http-relay, prefetch 10';
/** What a team writes instead: receive 10, POST each, delete the batch, receive again. */
const RAW_RELAY = 'hand-rolled relay (receive → POST → delete)';
/** Messages received ahead by the relay's prefetch contender and the runtime alone. */
const PREFETCH = 10;

interface Config {
  answerMs: number;
  clientConfig: AwsClientConfig;
  queueUrl: string;
  dlqUrl: string;
  url: string;
  bodies: string[];
  concurrency: number;
}

/** One envelope POSTed as a bare client does it: the answer read to its end, anything but 200 an error. */
async function post(pool: Pool, target: URL, body: string): Promise<void> {
  const answer = await pool.request({
    path: target.pathname,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await answer.body.dump();
  if (answer.statusCode !== 200) throw new Error(`HTTP ${answer.statusCode}`);
}

/** The worker endpoints by URL: started in `prepare`, closed in `verify` (both in the orchestrator). */
const servers = new Map<string, Server>();

/**
 * Tasks/s through the HTTP relay to a Node `http` server that answers after `answerMs`, against
 * the same bodies POSTed by a bare undici loop at the same concurrency (no queue at all: the ceiling
 * of the HTTP side alone).
 */
function relayScenario(name: string, title: string, answerMs: number, concurrency: number, count: number) {
  const scenario: Scenario<Config> = {
    name,
    title,
    unit: 'tasks/s',
    // The runtime alone (the same wait in-process, no HTTP) shows what the relay's HTTP side costs.
    contenders: ['tq http-relay', RELAY_PREFETCH, RUNTIME_ONLY, RAW_RELAY, 'undici POST loop'],
    reference: 'undici POST loop',
    referenceNote: 'the same envelopes POSTed by a bare undici Pool loop at the same concurrency, no queue',
    rounds: (context) => (context.quick ? 1 : 3),
    warmUp: answerMs === 0,
    async prepare(context) {
      const total = context.quick ? Math.min(count, 2000) : count;
      const { queueUrl, dlqUrl } = await createQueues(context.clientConfig, name);
      const bodies = Array.from({ length: total }, (_, i) =>
        encodeMessageBody(createTask('send_email', { to: [`u${i}@example.com`], subject: `n${i}`, text: 'x' })),
      );
      await preload(context.clientConfig, queueUrl, bodies);
      const server = createServer((request, response) => {
        request.resume();
        request.on('end', () => {
          const answer = () => response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
          if (answerMs > 0) setTimeout(answer, answerMs);
          else answer();
        });
      });
      server.keepAliveTimeout = 60_000;
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tasks`;
      servers.set(url, server);
      return { clientConfig: context.clientConfig, queueUrl, dlqUrl, url, bodies, concurrency, answerMs };
    },
    async run(contender, config) {
      const started = performance.now();
      if (contender === RAW_RELAY) {
        const target = new URL(config.url);
        const pool = new Pool(target.origin, { connections: config.concurrency });
        const value = await rawConsumerLoop({
          clientConfig: config.clientConfig,
          queueUrl: config.queueUrl,
          count: config.bodies.length,
          // Ten in flight per receive: as many loops as it takes to keep `concurrency` requests out.
          pollers: Math.ceil(config.concurrency / 10),
          started,
          handle: (body) => post(pool, target, body),
        });
        await pool.close();
        return { value };
      }
      if (contender !== 'undici POST loop') {
        const common = {
          endpoint: config.clientConfig.endpoint,
          region: config.clientConfig.region,
          queueUrl: config.queueUrl,
          deadLetterQueueUrl: config.dlqUrl,
          waitTimeSeconds: 1,
          logger: pino({ level: 'silent' }),
          handleSignals: false,
        };
        const worker =
          contender === RUNTIME_ONLY
            ? createWorker({
                ...common,
                prefetch: PREFETCH,
                task: 'send_email',
                concurrency: config.concurrency,
                handler: () =>
                  config.answerMs > 0
                    ? new Promise<void>((resolve) => setTimeout(resolve, config.answerMs))
                    : undefined,
              })
            : createRelayWorker({
                task: 'send_email',
                url: config.url,
                concurrency: config.concurrency,
                worker: contender === RELAY_PREFETCH ? { ...common, prefetch: PREFETCH } : common,
              });
        const value = await drainWithWorker(worker, config.bodies.length, started);
        return { value };
      }
      const target = new URL(config.url);
      const pool = new Pool(target.origin, { connections: config.concurrency });
      let next = 0;
      await Promise.all(
        Array.from({ length: config.concurrency }, async () => {
          while (next < config.bodies.length) {
            const body = config.bodies[next] as string;
            next += 1;
            await post(pool, target, body);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      await pool.close();
      return { value: config.bodies.length / seconds };
    },
    async verify(context, config) {
      servers.get(config.url)?.close();
      servers.delete(config.url);
      // The relay must have taken everything (the loop takes nothing from the queue).
      const left = await remaining(context.clientConfig, config.queueUrl);
      if (left !== 0 && left !== config.bodies.length) throw new Error(`${name}: ${left} messages left`);
      await deleteQueues(context.clientConfig, config.queueUrl, config.dlqUrl);
    },
  };
  return scenario;
}

export const relay = relayScenario(
  'relay',
  'relay 10,000 tasks to an endpoint that answers at once, concurrency 50',
  0,
  50,
  10_000,
);
export const relaySlow = relayScenario(
  'relay-50ms',
  'relay 10,000 tasks to an endpoint answering in 50 ms, concurrency 100 (ceiling 2,000/s)',
  50,
  100,
  10_000,
);
