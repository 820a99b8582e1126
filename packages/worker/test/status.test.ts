import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createStatusStore, ensureStatusTable, type StatusStore, type TaskStatus } from '@tq/status';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonRetryableError } from '../src/index.js';
import { latch, record, samples, sendEnvelope, useHarness } from './helpers.js';

const harness = useHarness();

describe('task status recorded by the worker', () => {
  let store: StatusStore;
  beforeAll(async () => {
    store = createStatusStore({ endpoint: harness.endpoint.endpoint, tableName: 'worker-status', coalesceMs: 10 });
    await ensureStatusTable(store.dynamodb, store.tableName);
  });
  afterAll(() => store.close());

  /** Polls the store until the task reaches `state` (writes are asynchronous by design). */
  async function statusOf(id: string, state: TaskStatus['state']): Promise<TaskStatus> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await store.reader.get(id);
      if (status?.state === state) return status;
      if (Date.now() > deadline) throw new Error(`${id} never reached ${state} (last: ${JSON.stringify(status)})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('records received, running and succeeded with the result and only the outputs as artifacts', async () => {
    const { queue } = await harness.queues();
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      status: store,
      handler: (payload, context) => ({
        messageId: `<${context.id}@test>`,
        attachment: payload.attachments?.[0]?.source,
        archived: `s3://tq-artifacts/sent/${context.id}.eml`,
      }),
    });
    await worker.start();
    const id = await sendEnvelope(harness.sqs, queue.url, {
      ...samples.send_email,
      attachments: [{ filename: 'a.pdf', source: 's3://tq-artifacts/in/a.pdf' }],
    });
    const status = await statusOf(id, 'succeeded');
    expect(status.events.map((step) => step.state)).toEqual(['received', 'running', 'succeeded']);
    expect(status.result).toMatchObject({ messageId: `<${id}@test>` });
    expect(status.artifacts).toEqual([`s3://tq-artifacts/sent/${id}.eml`]);
    expect(Number.isInteger(status.durationMs)).toBe(true);
  });

  it('records each retry with its error, then success; a non-retryable failure as dead-lettered with its reason', async () => {
    const { queue } = await harness.queues();
    let calls = 0;
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      status: store,
      retry: { baseSeconds: 0 },
      handler: (payload) => {
        if (payload.subject === 'never') throw new NonRetryableError('mailbox does not exist');
        calls += 1;
        if (calls === 1) throw new Error('SMTP 451 try later');
        return { ok: true };
      },
    });
    await worker.start();
    const flaky = await sendEnvelope(harness.sqs, queue.url);
    const done = await statusOf(flaky, 'succeeded');
    expect(done.attempts).toBe(2);
    expect(done.events.map((step) => `${step.state}:${step.attempt}`)).toEqual([
      'received:1',
      'running:1',
      'retrying:1',
      'received:2',
      'running:2',
      'succeeded:2',
    ]);
    expect(done.events[2]).toMatchObject({ code: 'Error', message: 'SMTP 451 try later' });
    expect(done.error).toBeUndefined();

    const doomed = await sendEnvelope(harness.sqs, queue.url, { ...samples.send_email, subject: 'never' });
    const dead = await statusOf(doomed, 'dead-lettered');
    expect(dead.error).toMatchObject({
      code: 'NON_RETRYABLE',
      message: expect.stringContaining('mailbox does not exist'),
    });
  });

  it('runs every task while the store is down and counts the failed writes', async () => {
    const { queue } = await harness.queues();
    const unreachable = createStatusStore({
      dynamodb: new DynamoDBClient({
        endpoint: 'http://127.0.0.1:9',
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
        maxAttempts: 1,
      }),
      tableName: 'worker-status',
      coalesceMs: 1,
    });
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      status: unreachable,
      handler: () => undefined,
    });
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    for (let i = 0; i < 5; i += 1) await sendEnvelope(harness.sqs, queue.url);
    await succeeded.waitFor(5);
    await unreachable.writer.flush();
    const metrics = await worker.metrics.registry.getSingleMetricAsString('tq_status_write_failures_total');
    expect(metrics).toMatch(/tq_status_write_failures_total\{task="send_email"\} (\d+)/);
    const failed = Number(/\} (\d+)/.exec(metrics)?.[1]);
    expect(failed).toBeGreaterThanOrEqual(5);
    await worker.stop();
    unreachable.dynamodb.destroy();
  });

  it('records progress: the first report at once, then the latest at most once a second', async () => {
    const { queue } = await harness.queues();
    const reported = latch();
    const release = latch();
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      status: store,
      handler: async (_payload, context) => {
        context.progress(0.1, 'starting');
        for (let step = 2; step <= 9; step += 1) context.progress(step / 10, `step ${step}`);
        expect(() => context.progress(1.5)).toThrow(RangeError);
        reported.open();
        await release.promise;
      },
    });
    await worker.start();
    const id = await sendEnvelope(harness.sqs, queue.url);
    await reported.promise;
    // The first report lands at once; the nine that followed within the second are one write: the last.
    const deadline = Date.now() + 60_000;
    let status = await store.reader.get(id);
    while (status?.progress?.fraction !== 0.9 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await store.reader.get(id);
    }
    expect(status?.progress).toMatchObject({ fraction: 0.9, note: 'step 9' });
    expect(status?.state).toBe('running');
    release.open();
    await statusOf(id, 'succeeded');
  });
});
