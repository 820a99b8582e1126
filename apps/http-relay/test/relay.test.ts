import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createTask, FAILURE_ATTRIBUTES } from '@tq/contracts';
import {
  createQueueWithDlq,
  type LocalEndpoint,
  queueCounts,
  startLocalEndpoint,
  testWorkerOptions,
  waitForMessages,
} from '@tq/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRelayWorker, parseRetryAfter, type RelayOptions, type RelayWorker } from '../src/relay.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** A worker endpoint whose answer depends on the task's subject and how often it was seen. */
async function startEndpoint(
  answer: (seen: Seen, times: number, response: ServerResponse) => void,
  port = 0,
): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const counts = new Map<string, number>();
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      const entry = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body,
        at: Date.now(),
      };
      seen.push(entry);
      const key = String(request.headers['x-tq-task-id'] ?? request.url);
      const times = (counts.get(key) ?? 0) + 1;
      counts.set(key, times);
      answer(entry, times, response);
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tasks`, seen };
}

const subjectOf = (seen: Seen) => (JSON.parse(seen.body) as { payload: { subject: string } }).payload.subject;

describe('http relay: settlement by the answer', () => {
  let endpoint: LocalEndpoint;
  let sqs: SQSClient;
  const workers: RelayWorker<'send_email'>[] = [];
  const servers: Server[] = [];
  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    sqs = new SQSClient(endpoint.clientConfig);
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop();
    for (const server of servers.splice(0)) server.close();
  });
  afterAll(async () => {
    sqs.destroy();
    await endpoint.stop();
  });

  async function relay(url: string, extra: Partial<RelayOptions<'send_email'>> = {}) {
    const { queue, dlq } = await createQueueWithDlq(sqs, { maxReceiveCount: 5 });
    const worker = createRelayWorker({
      task: 'send_email',
      url,
      ...extra,
      worker: {
        endpoint: endpoint.endpoint,
        ...testWorkerOptions(queue.url, { retryAtOnce: true }),
        ...extra.worker,
      },
    });
    workers.push(worker);
    const settled = new Map<string, string>();
    worker.on('succeeded', ({ id, attempt }) => settled.set(id, `succeeded@${attempt}`));
    worker.on('dead-lettered', ({ id, code, attempt }) => settled.set(id ?? '', `${code}@${attempt}`));
    const send = async (subject: string) => {
      const task = createTask(
        'send_email',
        { to: ['ada@example.com'], subject, text: 'x' },
        { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      );
      await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(task) }));
      return task.id;
    };
    const until = async (id: string) => {
      const deadline = Date.now() + 120_000;
      while (!settled.has(id)) {
        if (Date.now() > deadline) throw new Error(`task ${id} never settled`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return settled.get(id);
    };
    return { worker, queue, dlq, send, until };
  }

  it('POSTs the envelope with the X-Tq headers; each answer settles as the table says', async () => {
    const big = 'x'.repeat(10 * 1024 * 1024);
    const { server, url, seen } = await startEndpoint((entry, times, response) => {
      const subject = subjectOf(entry);
      if (subject === 'ok') return response.writeHead(200, { 'content-type': 'application/json' }).end('{"sent":true}');
      if (subject === 'bad') return response.writeHead(400).end('no such mailbox: ada@example.com');
      if (subject === 'huge') return response.writeHead(422).end(big);
      if (subject === 'flaky') return times <= 2 ? response.writeHead(500).end('oops') : response.writeHead(204).end();
      if (subject === 'later')
        return times === 1 ? response.writeHead(429, { 'retry-after': '2' }).end() : response.writeHead(200).end();
      if (subject === 'busy') return times === 1 ? response.writeHead(503).end() : response.writeHead(200).end();
      if (subject === 'moved') return response.writeHead(301, { location: '/elsewhere' }).end();
      response.writeHead(500).end('unknown');
    });
    servers.push(server);
    const { worker, dlq, send, until } = await relay(url);
    await worker.start();

    const ok = await send('ok');
    expect(await until(ok)).toBe('succeeded@1');
    const first = seen.find((entry) => entry.headers['x-tq-task-id'] === ok) as Seen;
    expect(first.method).toBe('POST');
    expect(first.url).toBe('/tasks');
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers).toMatchObject({ 'x-tq-task': 'send_email', 'x-tq-attempt': '1', 'x-tq-version': '1' });
    expect(first.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(JSON.parse(first.body)).toMatchObject({ id: ok, task: 'send_email', payload: { subject: 'ok' } });

    const flaky = await send('flaky');
    expect(await until(flaky)).toBe('succeeded@3');

    const later = await send('later');
    expect(await until(later)).toBe('succeeded@2');
    const tries = seen.filter((entry) => entry.headers['x-tq-task-id'] === later);
    // Retry-After 2: not sooner (a lower bound only; later is fine on a busy machine).
    expect((tries[1] as Seen).at - (tries[0] as Seen).at).toBeGreaterThanOrEqual(1900);

    const busy = await send('busy');
    expect(await until(busy)).toBe('succeeded@2');

    const bad = await send('bad');
    const huge = await send('huge');
    const moved = await send('moved');
    expect(await until(bad)).toBe('HTTP_400@1');
    expect(await until(huge)).toBe('HTTP_422@1');
    expect(await until(moved)).toBe('HTTP_301@1');
    const dead = await waitForMessages(sqs, dlq.url, 3);
    const reasons = new Map(
      dead.map((message) => [
        (JSON.parse(message.Body as string) as { id: string }).id,
        message.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue ?? '',
      ]),
    );
    expect(reasons.get(bad)).toBe('no such mailbox: ada@example.com');
    expect(reasons.get(huge)).toBe('x'.repeat(1024));

    const metrics = await worker.metrics.registry.getSingleMetricAsString('tq_relay_responses_total');
    expect(metrics).toContain('tq_relay_responses_total{task="send_email",class="2xx"} 4');
    expect(metrics).toContain('tq_relay_responses_total{task="send_email",class="5xx"} 3');
    expect(metrics).toContain('tq_relay_responses_total{task="send_email",class="4xx"} 3');
    expect(metrics).toContain('tq_relay_responses_total{task="send_email",class="3xx"} 1');
  });

  it('retries an answer slower than its timeout; the slow attempt keeps its message invisible meanwhile', async () => {
    const { server, url, seen } = await startEndpoint((_entry, times, response) => {
      // The first answer comes after the relay's 1 s timeout and after the 2 s visibility.
      if (times === 1) setTimeout(() => response.writeHead(200).end(), 3000);
      else response.writeHead(200).end();
    });
    servers.push(server);
    const { worker, send, until } = await relay(url, {
      timeoutSeconds: 1,
      worker: { visibilityTimeoutSeconds: 2 } as never,
    });
    await worker.start();
    const id = await send('slow');
    expect(await until(id)).toBe('succeeded@2');
    expect(seen.filter((entry) => entry.headers['x-tq-task-id'] === id)).toHaveLength(2);
  });

  it('is not ready and takes nothing while the endpoint refuses connections; delivers once it is up', async () => {
    // A port that was just free: nothing listens there yet.
    const probe = await startEndpoint(() => undefined);
    const port = (probe.server.address() as AddressInfo).port;
    probe.server.close();
    await once(probe.server, 'close');
    const { worker, queue, send, until } = await relay(`http://127.0.0.1:${port}/tasks`);
    await worker.start();
    const id = await send('ok');
    const deadline = Date.now() + 60_000;
    while (worker.reachable) {
      if (Date.now() > deadline) throw new Error('the relay never noticed the refused connection');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(worker.ready).toBe(false);
    // An outage of a few seconds (the scenario, not a wait): not ready, the worker takes no new
    // messages, so the task does not burn its five attempts and is not dead-lettered.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const waiting = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.url,
        VisibilityTimeout: 0,
        AttributeNames: ['All'],
        WaitTimeSeconds: 5,
      }),
    );
    const receivedSoFar = Number(waiting.Messages?.[0]?.Attributes?.ApproximateReceiveCount ?? 0);
    expect(receivedSoFar).toBeGreaterThan(0);
    expect(receivedSoFar).toBeLessThan(4);

    const { server } = await startEndpoint((_entry, _times, response) => response.writeHead(200).end(), port);
    servers.push(server);
    expect(await until(id)).toMatch(/^succeeded@[2-5]$/);
    expect(worker.ready).toBe(true);
  });

  it('query mode: GET ?message= with the flat form, as the original PHP worker reads it', async () => {
    const { server, url, seen } = await startEndpoint((_entry, _times, response) => response.writeHead(200).end('OK'));
    servers.push(server);
    const { worker, send, until } = await relay(url, { mode: 'query' });
    await worker.start();
    const id = await send('flat');
    expect(await until(id)).toBe('succeeded@1');
    const request = seen[0] as Seen;
    expect(request.method).toBe('GET');
    const message = new URL(request.url, 'http://x').searchParams.get('message') as string;
    expect(JSON.parse(message)).toEqual({ task: 'send_email', to: 'ada@example.com', subject: 'flat', body: 'x' });
  });

  it('stop() lets requests in flight finish and settles them', async () => {
    let release: () => void = () => {};
    const { server, url } = await startEndpoint((_entry, _times, response) => {
      release = () => response.writeHead(200).end();
    });
    servers.push(server);
    const { worker, send } = await relay(url);
    const received = new Promise<void>((resolve) => worker.once('received', () => resolve()));
    const succeeded = new Promise<string>((resolve) => worker.once('succeeded', ({ id }) => resolve(id)));
    await worker.start();
    const id = await send('in flight');
    await received;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopped = worker.stop();
    release();
    await stopped;
    expect(await succeeded).toBe(id);
  });

  it('stop() past its grace aborts a request the endpoint never answers and returns the message', async () => {
    let stopped = false;
    let closed: (beforeStopped: boolean) => void = () => {};
    const aborted = new Promise<boolean>((resolve) => {
      closed = resolve;
    });
    const { server, url } = await startEndpoint((_entry, _times, response) => {
      // Never answers; the relay's own timeout (60 s) is far off, so only the abort ends it.
      response.once('close', () => {
        if (!response.writableFinished) closed(!stopped);
      });
    });
    servers.push(server);
    const { worker, send, queue } = await relay(url, { timeoutSeconds: 60, worker: { shutdownGraceMs: 300 } });
    const received = new Promise<void>((resolve) => worker.once('received', () => resolve()));
    worker.once('stopped', () => {
      stopped = true;
    });
    await worker.start();
    await send('never answered');
    await received;
    await worker.stop();
    // The abort reached the request: the endpoint saw its connection close unanswered, while the
    // worker was still stopping (closing the pool after 'stopped' would close it too, later).
    expect(await aborted).toBe(true);
    // Nothing was deleted: the message is still on the queue, for another attempt.
    const counts = await queueCounts(sqs, queue.url);
    expect(counts.visible + counts.inFlight).toBe(1);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('120')).toBe(120);
    expect(parseRetryAfter(new Date(Date.now() + 30_000).toUTCString())).toBeGreaterThanOrEqual(29);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
