import { createHash } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { claimCheckKey, createTask } from '@tq/contracts';
import { queueCounts, waitForMessages } from '@tq/testing';
import { describe, expect, it, vi } from 'vitest';
import { latch, record, samples, sendEnvelope, useHarness } from './helpers.js';

const harness = useHarness();

describe('createWorker: claim checks', () => {
  it('fetches a claim-checked envelope from S3, and dead-letters a pointer whose object is gone', async () => {
    const { queue, dlq } = await harness.queues();
    const bucket = `cc-${Math.random().toString(36).slice(2, 8)}`;
    await harness.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const big = createTask('send_email', { ...samples.send_email, text: 'x'.repeat(300_000) });
    const body = JSON.stringify(big);
    const key = claimCheckKey(big);
    await harness.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    const { payload: _payload, ...meta } = big;
    const pointer = (uri: string) =>
      JSON.stringify({
        ...meta,
        claimCheck: { uri, bytes: Buffer.byteLength(body), sha256: createHash('sha256').update(body).digest('hex') },
      });
    const texts: number[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      s3Allow: [bucket],
      handler: (payload) => {
        texts.push(payload.text?.length ?? 0);
      },
    });
    const succeeded = record(worker, 'succeeded');
    const deadLettered = record(worker, 'dead-lettered');
    await worker.start();
    await harness.sqs.send(
      new SendMessageCommand({ QueueUrl: queue.url, MessageBody: pointer(`s3://${bucket}/${key}`) }),
    );
    await harness.sqs.send(
      new SendMessageCommand({ QueueUrl: queue.url, MessageBody: pointer(`s3://${bucket}/expired.json`) }),
    );
    const [done] = await succeeded.waitFor(1);
    expect(done?.id).toBe(big.id);
    expect(texts).toEqual([300_000]);
    const [dead] = await deadLettered.waitFor(1);
    expect(dead?.code).toBe('CLAIM_CHECK_MISSING');
    await waitForMessages(harness.sqs, dlq.url, 1);
  });
});

describe('createWorker: polling', () => {
  it('pauses emptyReceiveDelayMs after an empty receive (Camel delay), then takes what arrived', async () => {
    const { queue } = await harness.queues();
    const counting = new SQSClient(harness.endpoint.clientConfig);
    const receives: { at: number; empty: boolean }[] = [];
    counting.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'ReceiveMessageCommand') return next(args);
        const at = Date.now();
        const result = await next(args);
        const messages = (result.output as { Messages?: unknown[] }).Messages ?? [];
        receives.push({ at, empty: messages.length === 0 });
        return result;
      },
      { step: 'initialize' },
    );
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      sqs: counting,
      waitTimeSeconds: 0,
      pollers: 1,
      emptyReceiveDelayMs: 1500,
      handler: () => {},
    });
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    await vi.waitFor(() => expect(receives.length).toBeGreaterThanOrEqual(1), { timeout: 60_000 });
    const id = await sendEnvelope(harness.sqs, queue.url);
    const [done] = await succeeded.waitFor(1);
    expect(done?.id).toBe(id);
    // Every receive after an empty one waited the delay at least (a busy machine only adds to it).
    const gaps = receives.slice(1).flatMap((receive, index) => {
      const previous = receives[index] as { at: number; empty: boolean };
      return previous.empty ? [receive.at - previous.at] : [];
    });
    expect(gaps.length).toBeGreaterThanOrEqual(1);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1400);
    counting.destroy();
  });
});

describe('createWorker: prefetch', () => {
  it('holds up to concurrency + prefetch, runs at most concurrency, and starts a prefetched task as a slot frees', async () => {
    const { queue } = await harness.queues();
    const gates = new Map<string, () => void>();
    let running = 0;
    let peak = 0;
    const started: string[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 2,
      prefetch: 3,
      handler: async (payload) => {
        running += 1;
        peak = Math.max(peak, running);
        started.push(payload.subject);
        await new Promise<void>((resolve) => gates.set(payload.subject, resolve));
        running -= 1;
      },
    });
    const succeeded = record(worker, 'succeeded');
    for (let i = 0; i < 8; i += 1)
      await sendEnvelope(harness.sqs, queue.url, { ...samples.send_email, subject: `s${i}` });
    await worker.start();
    // Two run; three more wait in the worker (received, invisible to others), none beyond that.
    await vi.waitFor(() => expect(worker.inFlight).toBe(5), { timeout: 60_000 });
    expect(running).toBe(2);
    expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ visible: 3, inFlight: 5 });
    expect(await worker.metrics.registry.getSingleMetricAsString('tq_tasks_prefetched')).toContain(
      'tq_tasks_prefetched{task="send_email"} 3',
    );
    // Ending one task starts a prefetched one with no receive in between.
    const first = started[0] as string;
    (gates.get(first) as () => void)();
    await vi.waitFor(() => expect(started).toHaveLength(3), { timeout: 60_000 });
    expect(running).toBe(2);
    // Open every gate as its task starts, until all eight are done.
    const opener = setInterval(() => {
      for (const [subject, open] of gates) {
        gates.delete(subject);
        open();
      }
    }, 10);
    await succeeded.waitFor(8);
    clearInterval(opener);
    expect(peak).toBe(2);
    expect(new Set(started).size).toBe(8);
  });

  it('keeps prefetched messages invisible with the heartbeat, and stop() hands them back untouched', async () => {
    const { queue } = await harness.queues();
    const release = latch();
    const attempts: number[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 1,
      prefetch: 4,
      visibilityTimeoutSeconds: 4,
      handler: async (_payload, context) => {
        attempts.push(context.attempt);
        await release.promise;
      },
    });
    for (let i = 0; i < 5; i += 1) await sendEnvelope(harness.sqs, queue.url);
    await worker.start();
    await vi.waitFor(() => expect(worker.inFlight).toBe(5), { timeout: 60_000 });
    // Past two visibility timeouts: without the heartbeat the four waiting messages would be visible again.
    await new Promise((resolve) => setTimeout(resolve, 9000));
    expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ visible: 0, inFlight: 5 });
    const stopping = worker.stop();
    // The four that never started are back in the queue at once, not after their visibility timeout.
    await vi.waitFor(async () => expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ visible: 4 }), {
      timeout: 60_000,
    });
    release.open();
    await stopping;
    expect(attempts).toEqual([1]);
    expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ visible: 4, inFlight: 0 });
    const next = harness.worker({ task: 'send_email', queueUrl: queue.url, handler: () => {} });
    const done = record(next, 'succeeded');
    await next.start();
    expect(await done.waitFor(4)).toHaveLength(4);
  }, 60_000);

  it('is ignored on FIFO queues, where a waiting message would hold up its group', async () => {
    const { queue } = await harness.queues({ fifo: true });
    const release = latch();
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 2,
      prefetch: 5,
      handler: () => release.promise,
    });
    const succeeded = record(worker, 'succeeded');
    for (let i = 0; i < 6; i += 1) await sendEnvelope(harness.sqs, queue.url, samples.send_email, { groupId: `g${i}` });
    await worker.start();
    await vi.waitFor(() => expect(worker.inFlight).toBe(2), { timeout: 60_000 });
    // A second long poll's worth: nothing more is taken while both slots are busy.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(worker.inFlight).toBe(2);
    release.open();
    await succeeded.waitFor(6);
  });
});
