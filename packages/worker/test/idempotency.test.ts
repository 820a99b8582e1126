import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createTask, type TaskEnvelope } from '@tq/contracts';
import { createIdempotencyStore, ensureIdempotencyTable, type IdempotencyStore, payloadHash } from '@tq/status';
import { queueCounts } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latch, record, samples, useHarness } from './helpers.js';

const harness = useHarness();

async function sendTwice(sqs: SQSClient, queueUrl: string, envelope: TaskEnvelope, times = 2): Promise<void> {
  for (let i = 0; i < times; i += 1) {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(envelope),
        MessageAttributes: { task: { DataType: 'String', StringValue: envelope.task } },
      }),
    );
  }
}

async function metric(worker: { metrics: { registry: { getSingleMetricAsString(n: string): Promise<string> } } }) {
  return await worker.metrics.registry.getSingleMetricAsString('tq_idempotency_total');
}

describe('idempotency guard (exactly-once effects over at-least-once delivery)', () => {
  let store: IdempotencyStore;
  beforeAll(async () => {
    store = createIdempotencyStore({ endpoint: harness.endpoint.endpoint, tableName: 'worker-idempotency' });
    expect(await ensureIdempotencyTable(store.dynamodb, store.tableName)).toBe('created');
    expect(await ensureIdempotencyTable(store.dynamodb, store.tableName)).toBe('exists');
  });
  afterAll(() => store.close());

  /** A one-slot worker guarded by the store, started; `runs()` counts its handler's runs. */
  async function guardedWorker(result: (id: string, run: number) => unknown) {
    const { queue, dlq } = await harness.queues();
    let count = 0;
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 1,
      idempotency: { store },
      handler: (_payload, context) => {
        count += 1;
        return result(context.id, count);
      },
    });
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    return { queue, dlq, worker, succeeded, runs: () => count };
  }

  it('runs the handler once for a task delivered twice; the duplicate is acked with the stored result', async () => {
    const { queue, dlq, worker, runs, succeeded } = await guardedWorker((id, run) => ({
      messageId: `<${id}@test>`,
      run,
    }));
    const envelope = createTask('send_email', samples.send_email);
    await sendTwice(harness.sqs, queue.url, envelope);
    const [first, second] = await succeeded.waitFor(2);
    expect(runs()).toBe(1);
    expect(first).toMatchObject({ id: envelope.id, result: { run: 1 } });
    expect(first?.duplicate).toBeUndefined();
    expect(second).toMatchObject({
      id: envelope.id,
      duplicate: true,
      result: { messageId: `<${envelope.id}@test>`, run: 1 },
    });
    expect(await queueCounts(harness.sqs, dlq.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await store.get(`send_email#${envelope.id}`)).toMatchObject({ state: 'done', result: { run: 1 } });
    const text = await metric(worker);
    expect(text).toContain('tq_idempotency_total{task="send_email",outcome="claimed"} 1');
    expect(text).toContain('tq_idempotency_total{task="send_email",outcome="duplicate"} 1');
  });

  it('keys by the idempotency key when the task has one: two ids, one effect', async () => {
    const { queue, runs, succeeded } = await guardedWorker((_id, run) => ({ runs: run }));
    const key = `order-${Math.random()}`;
    await sendTwice(harness.sqs, queue.url, createTask('send_email', samples.send_email, { idempotencyKey: key }), 1);
    await sendTwice(harness.sqs, queue.url, createTask('send_email', samples.send_email, { idempotencyKey: key }), 1);
    const events = await succeeded.waitFor(2);
    expect(runs()).toBe(1);
    expect(events.filter((event) => event.duplicate)).toHaveLength(1);
  });

  it('a failed attempt gives the claim up: the retry runs the handler and records its result', async () => {
    const { queue } = await harness.queues();
    const attempts: number[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      retry: { baseSeconds: 0 },
      idempotency: { store },
      handler: (_payload, context) => {
        attempts.push(context.attempt);
        if (context.attempt === 1) throw new Error('SMTP 451');
        return { sent: true };
      },
    });
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    const envelope = createTask('send_email', samples.send_email);
    await sendTwice(harness.sqs, queue.url, envelope, 1);
    await succeeded.waitFor(1);
    expect(attempts).toEqual([1, 2]);
    expect(await store.get(`send_email#${envelope.id}`)).toMatchObject({ state: 'done', result: { sent: true } });
  });

  it('a holder that died mid-effect blocks the key only until its lease runs out; then the task runs', async () => {
    const { queue } = await harness.queues();
    const envelope = createTask('send_email', samples.send_email);
    // A worker claimed the key with a 2 s lease and was killed: nobody renews or completes it.
    const dead = await store.claim(`send_email#${envelope.id}`, payloadHash(envelope.payload), 2000);
    expect(dead.kind).toBe('claimed');
    const attempts: number[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      idempotency: { store },
      handler: (_payload, context) => {
        attempts.push(context.attempt);
        return { ok: true };
      },
    });
    const retrying = record(worker, 'retrying');
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    await sendTwice(harness.sqs, queue.url, envelope, 1);
    await succeeded.waitFor(1);
    // The first delivery found the live lease and came back after it (not run), the next ran.
    expect((await retrying.waitFor(1))[0]).toMatchObject({ attempt: 1 });
    expect(retrying.items[0]?.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(retrying.items[0]?.delaySeconds).toBeLessThanOrEqual(2);
    expect(attempts).toEqual([2]);
    expect(await metric(worker)).toContain('outcome="busy"} 1');
  });

  it('renews the lease while a long handler runs: a duplicate on another worker waits instead of running', async () => {
    const { queue } = await harness.queues();
    const release = latch();
    const started = latch();
    let runs = 0;
    const options = {
      task: 'send_email' as const,
      queueUrl: queue.url,
      concurrency: 1,
      retry: { baseSeconds: 1 },
      idempotency: { store, leaseSeconds: 1 },
      handler: async () => {
        runs += 1;
        started.open();
        await release.promise;
        return { runs };
      },
    };
    const first = harness.worker(options);
    const firstDone = record(first, 'succeeded');
    await first.start();
    const envelope = createTask('send_email', samples.send_email);
    await sendTwice(harness.sqs, queue.url, envelope, 1);
    await started.promise;
    const second = harness.worker(options);
    const secondRetrying = record(second, 'retrying');
    const secondDone = record(second, 'succeeded');
    await second.start();
    await sendTwice(harness.sqs, queue.url, envelope, 1);
    // The duplicate comes back twice while the 1 s lease is renewed (far past its first expiry).
    await secondRetrying.waitFor(2);
    expect(runs).toBe(1);
    release.open();
    await firstDone.waitFor(1);
    const [duplicate] = await secondDone.waitFor(1);
    expect(duplicate).toMatchObject({ duplicate: true, result: { runs: 1 } });
    expect(runs).toBe(1);
  });

  it('dead-letters a key reused for a different payload (IDEMPOTENCY_KEY_REUSED), without running it', async () => {
    const { queue, dlq } = await harness.queues();
    const payloads: string[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 1,
      idempotency: { store },
      handler: (payload) => {
        payloads.push(payload.subject);
        return {};
      },
    });
    const dead = record(worker, 'dead-lettered');
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    const key = `reuse-${Math.random()}`;
    await sendTwice(harness.sqs, queue.url, createTask('send_email', samples.send_email, { idempotencyKey: key }), 1);
    await succeeded.waitFor(1);
    const other = { ...samples.send_email, subject: 'Something else' };
    await sendTwice(harness.sqs, queue.url, createTask('send_email', other, { idempotencyKey: key }), 1);
    const [letter] = await dead.waitFor(1);
    expect(letter).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', reason: expect.stringContaining(key) });
    expect(payloads).toEqual(['Hello']);
    const { Messages } = await harness.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq.url, MessageAttributeNames: ['All'], WaitTimeSeconds: 5 }),
    );
    expect(Messages?.[0]?.MessageAttributes?.['tq-error-code']?.StringValue).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('store down: runs unguarded by default (counted), or retries without running with whenUnavailable "retry"', async () => {
    const unreachable = () =>
      createIdempotencyStore({
        dynamodb: new DynamoDBClient({
          endpoint: 'http://127.0.0.1:9',
          region: 'us-east-1',
          credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
          maxAttempts: 1,
        }),
        tableName: 'worker-idempotency',
      });
    const { queue } = await harness.queues();
    let runs = 0;
    const lenient = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      idempotency: { store: unreachable() },
      handler: () => {
        runs += 1;
      },
    });
    const succeeded = record(lenient, 'succeeded');
    await lenient.start();
    await sendTwice(harness.sqs, queue.url, createTask('send_email', samples.send_email), 3);
    await succeeded.waitFor(3);
    expect(runs).toBe(3);
    expect(await metric(lenient)).toContain('outcome="unguarded"} 3');
    await lenient.stop();

    // A queue of its own: the stopped worker's aborted long poll may still take a message at the endpoint.
    const other = await harness.queues();
    const strict = harness.worker({
      task: 'send_email',
      queueUrl: other.queue.url,
      retry: { baseSeconds: 1 },
      idempotency: { store: unreachable(), whenUnavailable: 'retry' },
      handler: () => {
        runs += 1;
      },
    });
    const retrying = record(strict, 'retrying');
    await strict.start();
    await sendTwice(harness.sqs, other.queue.url, createTask('send_email', samples.send_email), 1);
    const [retry] = await retrying.waitFor(2);
    expect(retry?.error).toBeDefined();
    expect(runs).toBe(3);
    expect(await metric(strict)).toContain('outcome="unavailable"}');
  });
});
