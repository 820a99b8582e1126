import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { createTask } from '@tq/contracts';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { record, samples, useHarness } from './helpers.js';

const harness = useHarness();

describe('FIFO queues', () => {
  it('runs one group at a time in order, other groups in parallel, and a failure holds its group back', async () => {
    const { queue } = await harness.queues({ fifo: true });
    const groups = ['a', 'b', 'c'];
    const perGroup = 6;
    for (let seq = 0; seq < perGroup; seq += 1) {
      for (const group of groups) {
        const envelope = createTask('send_email', { ...samples.send_email, subject: `${group}${seq}` });
        await harness.sqs.send(
          new SendMessageCommand({
            QueueUrl: queue.url,
            MessageBody: JSON.stringify(envelope),
            MessageGroupId: group,
            MessageDeduplicationId: envelope.id,
          }),
        );
      }
    }
    const order = new Map<string, string[]>(groups.map((g) => [g, []]));
    const running = new Map<string, number>();
    let overlapWithinGroup = false;
    let peakAcrossGroups = 0;
    let failedOnce = false;
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 10,
      retry: { baseSeconds: 0 },
      handler: async (payload, context) => {
        const group = context.groupId as string;
        const now = (running.get(group) ?? 0) + 1;
        running.set(group, now);
        if (now > 1) overlapWithinGroup = true;
        peakAcrossGroups = Math.max(
          peakAcrossGroups,
          [...running.values()].reduce((a, b) => a + b, 0),
        );
        await new Promise((resolve) => setTimeout(resolve, 30));
        running.set(group, (running.get(group) ?? 1) - 1);
        if (payload.subject === 'a2' && !failedOnce) {
          failedOnce = true;
          throw new Error('transient');
        }
        order.get(group)?.push(payload.subject);
      },
    });
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    await succeeded.waitFor(groups.length * perGroup);
    for (const group of groups) {
      expect(order.get(group)).toEqual(Array.from({ length: perGroup }, (_, seq) => `${group}${seq}`));
    }
    expect(failedOnce).toBe(true);
    expect(overlapWithinGroup).toBe(false);
    expect(peakAcrossGroups).toBeGreaterThan(1);
  });
});

describe('observability', () => {
  it('serves /healthz, /readyz and Prometheus /metrics by task', async () => {
    const { queue } = await harness.queues();
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      http: { port: 0 },
      retry: { baseSeconds: 0 },
      handler: (payload, context) => {
        if (payload.subject === 'flaky' && context.attempt === 1) throw new Error('flaky');
      },
    });
    const succeeded = record(worker, 'succeeded');
    const deadLettered = record(worker, 'dead-lettered');
    await worker.start();
    const base = `http://127.0.0.1:${worker.http?.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    // A second worker on the same port says which port and how to fix it.
    const second = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      http: { port: worker.http?.port ?? 0 },
      handler: () => undefined,
    });
    await expect(second.start()).rejects.toMatchObject({
      code: 'HTTP_PORT_IN_USE',
      message: expect.stringMatching(
        new RegExp(`port ${worker.http?.port} on 127.0.0.1 is already in use.*TQ_HTTP_PORT`),
      ),
    });
    for (const subject of ['ok', 'flaky']) {
      const envelope = createTask('send_email', { ...samples.send_email, subject });
      await harness.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(envelope) }));
    }
    await harness.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'not json' }));
    await succeeded.waitFor(2);
    await deadLettered.waitFor(1);
    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('tq_messages_received_total{task="send_email"} 4');
    expect(text).toContain('tq_tasks_succeeded_total{task="send_email"} 2');
    expect(text).toContain('tq_tasks_failed_total{task="send_email"} 1');
    expect(text).toContain('tq_tasks_retried_total{task="send_email"} 1');
    expect(text).toContain('tq_tasks_dead_lettered_total{task="send_email",code="INVALID_JSON"} 1');
    expect(text).toContain('tq_handler_duration_seconds_count{task="send_email",outcome="succeeded"} 2');
    expect(text).toContain('tq_tasks_in_flight{task="send_email"} 0');
    // Counts kept per message are published when read: a second read does not count them again,
    // and reading the metric object directly sees them too.
    const again = await (await fetch(`${base}/metrics`)).text();
    expect(again).toContain('tq_messages_received_total{task="send_email"} 4');
    expect(again).toContain('tq_tasks_succeeded_total{task="send_email"} 2');
    expect((await worker.metrics.succeeded.get()).values).toEqual([
      expect.objectContaining({ labels: { task: 'send_email' }, value: 2 }),
    ]);
    await worker.stop();
    expect(worker.ready).toBe(false);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('continues the trace of the message: the handler sees its trace id', async () => {
    const { queue } = await harness.queues();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const seen: (string | undefined)[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      handler: (_payload, context) => {
        seen.push(context.traceparent);
      },
    });
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    const envelope = createTask('send_email', samples.send_email, { traceparent });
    await harness.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(envelope) }));
    const untraced = createTask('send_email', samples.send_email);
    await harness.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(untraced) }));
    await succeeded.waitFor(2);
    expect(seen).toContain(traceparent);
    expect(seen).toContain(undefined);
  });

  it("binds the task to the handler's logger and to the runtime's own log lines, each key once", async () => {
    const { queue } = await harness.queues();
    const lines: Record<string, unknown>[] = [];
    const raw: string[] = [];
    const logger = pino(
      { level: 'info' },
      {
        write(line: string) {
          raw.push(line);
          lines.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
    );
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      logger,
      handler: (payload, context) => {
        context.logger.info({ subject: payload.subject }, 'sending');
      },
    });
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    const envelope = createTask('send_email', samples.send_email, { traceparent });
    await harness.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(envelope) }));
    await succeeded.waitFor(1);
    const messageId = succeeded.items[0]?.messageId;
    const expected = { task: 'send_email', id: envelope.id, messageId, attempt: 1, traceId: traceparent.slice(3, 35) };
    expect(lines.find((line) => line.msg === 'sending')).toMatchObject({ ...expected, subject: 'Hello' });
    expect(lines.find((line) => line.msg === 'task succeeded')).toMatchObject(expected);
    for (const line of raw.filter((text) => text.includes(envelope.id))) {
      expect(line.match(/"id":/g)).toHaveLength(1);
      expect(line.match(/"messageId":/g)).toHaveLength(1);
    }
  });

  it('rejects out-of-range options before touching AWS', () => {
    expect(() =>
      harness.worker({ task: 'send_email', handler: () => undefined, batchSize: 11, waitTimeSeconds: 25 }),
    ).toThrow(/batchSize is 11, must be from 1 to 10; waitTimeSeconds is 25, must be from 0 to 20/);
    expect(() =>
      harness.worker({
        task: 'send_email',
        handler: () => undefined,
        visibilityTimeoutSeconds: 3,
        heartbeatIntervalSeconds: 5,
      }),
    ).toThrow(/heartbeatIntervalSeconds is 5/);
    expect(() => harness.worker({ task: 'nope' as 'send_email', handler: () => undefined })).toThrow(
      /unknown task "nope"/,
    );
  });

  it('fails start() with QUEUE_NOT_FOUND when the queue was never provisioned', async () => {
    const worker = harness.worker({ task: 'send_email', prefix: 'never-provisioned', handler: () => undefined });
    await expect(worker.start()).rejects.toMatchObject({ code: 'QUEUE_NOT_FOUND' });
  });
});

describe('FIFO groups within one receive (SQS client stubbed: real FIFO queues may return several messages of a group at once, the local endpoint returns one)', () => {
  it('runs them in order, one at a time, and hands back the rest of the group after a failure', async () => {
    const bodies = [0, 1, 2, 3, 4].map((seq) =>
      createTask('send_email', { ...samples.send_email, subject: `g${seq}` }),
    );
    const calls: { name: string; input: Record<string, unknown> }[] = [];
    let delivered = false;
    const stub = {
      async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
        const name = command.constructor.name;
        calls.push({ name, input: command.input });
        if (name === 'GetQueueAttributesCommand') return { Attributes: {} };
        if (name === 'ReceiveMessageCommand') {
          if (!delivered) {
            delivered = true;
            return {
              Messages: bodies.map((body, seq) => ({
                MessageId: `m${seq}`,
                ReceiptHandle: `r${seq}`,
                Body: JSON.stringify(body),
                Attributes: { ApproximateReceiveCount: '1', MessageGroupId: 'g' },
              })),
            };
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
          return { Messages: [] };
        }
        return { Successful: [], Failed: [] };
      },
    };
    let running = 0;
    let overlap = false;
    const ran: string[] = [];
    const worker = harness.worker({
      task: 'send_email',
      sqs: stub as never,
      queueUrl: 'http://stub/000000000000/q.fifo',
      deadLetterQueueUrl: 'http://stub/000000000000/q-dlq.fifo',
      retry: { baseSeconds: 7, jitter: 'none' },
      handler: async (payload) => {
        running += 1;
        if (running > 1) overlap = true;
        await new Promise((resolve) => setTimeout(resolve, 10));
        running -= 1;
        ran.push(payload.subject);
        if (payload.subject === 'g2') throw new Error('fails');
      },
    });
    const retrying = record(worker, 'retrying');
    await worker.start();
    await retrying.waitFor(1);
    await worker.stop();
    expect(ran).toEqual(['g0', 'g1', 'g2']);
    expect(overlap).toBe(false);
    const deleted = calls
      .filter((c) => c.name === 'DeleteMessageBatchCommand')
      .flatMap((c) => (c.input.Entries as { ReceiptHandle: string }[]).map((e) => e.ReceiptHandle));
    expect(deleted.sort()).toEqual(['r0', 'r1']);
    const visibility = calls
      .filter((c) => c.name === 'ChangeMessageVisibilityBatchCommand')
      .flatMap((c) => c.input.Entries as { ReceiptHandle: string; VisibilityTimeout: number }[])
      .map((e) => `${e.ReceiptHandle}=${e.VisibilityTimeout}`);
    // The failed one waits its backoff; the two behind it go back untouched, last first.
    expect(visibility).toEqual(['r2=7', 'r4=0', 'r3=0']);
  });
});
