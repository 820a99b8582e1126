import { createProducer, type Producer } from '@tq/producer-sdk';
import { createStatusStore, ensureStatusTable, type StatusStore, type TaskStatus } from '@tq/status';
import { queueCounts, waitUntil } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTaskCancelledError } from '../src/index.js';
import { latch, record, sendEnvelope, useHarness } from './helpers.js';

const harness = useHarness();

describe('cancellation across processes: tq cancel / producer.cancel', () => {
  let store: StatusStore;
  let producer: Producer;
  beforeAll(async () => {
    store = createStatusStore({ endpoint: harness.endpoint.endpoint, tableName: 'cancel-status', coalesceMs: 10 });
    await ensureStatusTable(store.dynamodb, store.tableName);
    producer = createProducer({ endpoint: harness.endpoint.endpoint, status: store });
  });
  afterAll(async () => {
    await producer.close();
    await store.close();
  });

  const statusOf = (id: string, state: TaskStatus['state']) =>
    waitUntil(async () => {
      const status = await store.reader.get(id);
      return status?.state === state ? status : undefined;
    }, `${id} to be ${state}`);

  it('a queued task that was cancelled is settled without running: not retried, not dead-lettered', async () => {
    const { queue, dlq } = await harness.queues();
    const id = await sendEnvelope(harness.sqs, queue.url);
    const request = await producer.cancel(id, { reason: 'customer withdrew' });
    expect(request).toMatchObject({ id, kind: 'task', reason: 'customer withdrew' });
    expect((await store.reader.get(id))?.cancelRequested).toBeUndefined(); // no steps yet: nothing to show
    const ran: string[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      status: store,
      handler: (_payload, context) => {
        ran.push(context.id);
      },
    });
    const cancelled = record(worker, 'cancelled');
    await worker.start();
    expect((await cancelled.waitFor(1))[0]).toMatchObject({ id, ran: false });
    const status = await statusOf(id, 'cancelled');
    expect(status.cancelRequested).toMatchObject({ reason: 'customer withdrew' });
    expect(ran).toEqual([]);
    await waitUntil(async () => {
      const counts = await queueCounts(harness.sqs, queue.url);
      return counts.visible + counts.inFlight === 0;
    }, 'the message to be deleted');
    expect((await queueCounts(harness.sqs, dlq.url)).visible).toBe(0);
  });

  it('a running task sees its cancellation at the next heartbeat: its signal aborts and it ends cancelled', async () => {
    const { queue, dlq } = await harness.queues();
    const started = latch();
    let reason: unknown;
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      status: store,
      visibilityTimeoutSeconds: 3,
      handler: async (_payload, context) => {
        started.open();
        await new Promise<void>((resolve) => {
          context.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        reason = context.signal.reason;
        throw reason;
      },
    });
    const cancelled = record(worker, 'cancelled');
    await worker.start();
    const id = await sendEnvelope(harness.sqs, queue.url);
    await started.promise;
    await producer.cancel(id);
    expect((await cancelled.waitFor(1))[0]).toMatchObject({ id, ran: true });
    expect(isTaskCancelledError(reason)).toBe(true);
    await statusOf(id, 'cancelled');
    expect((await queueCounts(harness.sqs, dlq.url)).visible).toBe(0);
  });
});
