import { AsyncLocalStorage } from 'node:async_hooks';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import {
  DeleteMessageCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type Context, type ContextManager, context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { MAX_CLAIM_CHECK_BYTES, parseTask, type TaskPayloads } from '@tq/contracts';
import { queueCounts, uniqueName, waitForMessages } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createProvisioner, defineTopology } from '@tq/topology';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BatchItem, createProducer, PayloadTooLargeError, SNS_MAX_BYTES, SQS_MAX_BYTES } from '../src/index.js';

const email: TaskPayloads['send_email'] = { to: ['john@example.com'], subject: 'Hi', text: 'Hello' };
const image: TaskPayloads['process_image'] = {
  source: 's3://tq-artifacts/in/photo.jpg',
  destination: 's3://tq-artifacts/out/',
  variants: [{ name: 'thumb', width: 100, format: 'webp' }],
};

/** Records each SQS/SNS command a client sends (name and input), for tests that count calls. */
function recordCalls(client: SQSClient | SNSClient) {
  const calls: { name: string; input: Record<string, unknown> }[] = [];
  // Both clients share the middleware stack type; one signature keeps TypeScript happy.
  (client as SQSClient).middlewareStack.add(
    (next, ctx) => async (args) => {
      calls.push({ name: ctx.commandName ?? '', input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize', name: 'recordCalls' },
  );
  return calls;
}

describe('sendBatch, claim checks, FIFO and trace context against the local endpoint', () => {
  const local = useLocalEndpoint();
  const prefix = uniqueName('batch');
  const fifoPrefix = uniqueName('fifo');
  const bucket = `claims-${Date.now().toString(36)}`;
  const url = async (name: string) =>
    (await local.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string;

  beforeAll(async () => {
    const { s3, sns } = local;
    await createProvisioner({ sqs: local.sqs, sns, s3, topology: defineTopology({ prefix, bucket }) }).apply();
    await createProvisioner({
      sqs: local.sqs,
      sns,
      s3,
      topology: defineTopology({ prefix: fifoPrefix, bucket: false, queues: { send_email: { fifo: true } } }),
    }).apply();
    await local.s3.send(new CreateBucketCommand({ Bucket: `${bucket}-x` })).catch(() => undefined);
  });
  beforeEach(async () => {
    for (const task of ['send_email', 'process_image']) {
      await local.sqs.send(new PurgeQueueCommand({ QueueUrl: await url(`${prefix}-${task}`) }));
    }
  });

  const producer = (extra: Parameters<typeof createProducer>[0] = {}) =>
    createProducer({ endpoint: local.endpoint.endpoint, prefix, ...extra });

  it('a 25-item batch with 3 invalid items delivers exactly the 22 valid ones and reports the 3 in place', async () => {
    const items: BatchItem[] = Array.from({ length: 25 }, (_, i) =>
      i % 2 === 0
        ? { task: 'send_email', payload: { ...email, subject: `mail ${i}` } }
        : { task: 'process_image', payload: { ...image, source: `s3://tq-artifacts/in/${i}.jpg` } },
    );
    items[3] = { task: 'process_image', payload: { ...image, variants: [] } };
    items[10] = { task: 'send_email', payload: { ...email, to: ['nobody'] } };
    items[17] = { task: 'send_email', payload: email, options: { delaySeconds: 9000 } };
    const results = await producer().sendBatch(items);
    expect(results).toHaveLength(25);
    const failed = results.flatMap((r, i) => (r.ok ? [] : [[i, r.error.name, (r.error as { code: string }).code]]));
    expect(failed).toEqual([
      [3, 'TaskValidationError', 'SCHEMA_VIOLATION'],
      [10, 'TaskValidationError', 'SCHEMA_VIOLATION'],
      [17, 'ProducerError', 'INVALID_OPTIONS'],
    ]);
    const emails = await waitForMessages(local.sqs, await url(`${prefix}-send_email`), 12);
    const images = await waitForMessages(local.sqs, await url(`${prefix}-process_image`), 10);
    const ids = [...emails, ...images].map((m) => (parseTask(m.Body).ok ? JSON.parse(m.Body ?? '').id : 'invalid'));
    const sent = results.flatMap((r) => (r.ok ? [r.id] : []));
    expect(ids.sort()).toEqual(sent.sort());
    expect(await queueCounts(local.sqs, await url(`${prefix}-send_email`))).toMatchObject({ visible: 0, delayed: 0 });
  });

  it('splits batches by bytes as well as by entries (1 MiB per SQS batch, 256 KiB per SNS batch)', async () => {
    const sqsClient = new SQSClient(local.endpoint.clientConfig);
    const snsClient = new SNSClient(local.endpoint.clientConfig);
    const sqsCalls = recordCalls(sqsClient);
    const snsCalls = recordCalls(snsClient);
    const p = producer({ sqs: sqsClient, sns: snsClient });
    const big = (i: number, size: number): BatchItem => ({
      task: 'send_email',
      payload: { ...email, subject: `big ${i}`, text: 'y'.repeat(size) },
    });
    const viaQueue = Array.from({ length: 8 }, (_, i) => ({
      ...big(i, 200_000),
      options: { route: 'queue' as const },
    }));
    const viaTopic = Array.from({ length: 5 }, (_, i) => big(i, 100_000));
    const results = await p.sendBatch([...viaQueue, ...viaTopic]);
    expect(results.every((r) => r.ok)).toBe(true);
    const sqsBatches = sqsCalls.filter((c) => c.name === 'SendMessageBatchCommand');
    const snsBatches = snsCalls.filter((c) => c.name === 'PublishBatchCommand');
    const size = (entries: { MessageBody?: string; Message?: string }[]) =>
      entries.reduce((sum, e) => sum + Buffer.byteLength(e.MessageBody ?? e.Message ?? ''), 0);
    expect(sqsBatches.length).toBeGreaterThanOrEqual(2);
    expect(snsBatches.length).toBeGreaterThanOrEqual(3);
    for (const call of sqsBatches) expect(size(call.input.Entries as never)).toBeLessThanOrEqual(SQS_MAX_BYTES);
    for (const call of snsBatches) {
      expect(size(call.input.PublishBatchRequestEntries as never)).toBeLessThanOrEqual(SNS_MAX_BYTES);
    }
    // Entry ids are positions, never taken from the bodies.
    for (const call of [...sqsBatches, ...snsBatches]) {
      const entries = (call.input.Entries ?? call.input.PublishBatchRequestEntries) as { Id: string }[];
      expect(entries.map((e) => e.Id)).toEqual(entries.map((_, i) => String(i)));
    }
    await waitForMessages(local.sqs, await url(`${prefix}-send_email`), 13, { timeoutMs: 120_000 });
    sqsClient.destroy();
    snsClient.destroy();
  });

  it('retries only the entries that failed transiently (failures injected at the client: the local endpoint never fails part of a batch)', async () => {
    const client = new SQSClient(local.endpoint.clientConfig);
    const calls = recordCalls(client);
    let injected = false;
    client.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { Entries?: { Id: string }[] };
        if (injected || !input.Entries) return next(args);
        injected = true;
        // Drop entries 1, 2 (transient) and 3 (sender fault) from the request; report them failed.
        const dropped = input.Entries.filter((e) => ['1', '2', '3'].includes(e.Id));
        input.Entries = input.Entries.filter((e) => !dropped.includes(e));
        const out = await next(args);
        const output = out.output as { Failed?: unknown[] };
        output.Failed = dropped.map((e) => ({
          Id: e.Id,
          Code: e.Id === '3' ? 'InvalidParameterValue' : 'ServiceUnavailable',
          Message: 'injected',
          SenderFault: e.Id === '3',
        }));
        return out;
      },
      { step: 'initialize', name: 'injectFailures', priority: 'low' },
    );
    const items: BatchItem[] = Array.from({ length: 10 }, (_, i) => ({
      task: 'send_email',
      payload: { ...email, subject: `retry ${i}` },
      options: { route: 'queue' },
    }));
    const results = await producer({ sqs: client }).sendBatch(items);
    expect(results.map((r) => r.ok)).toEqual([true, true, true, false, true, true, true, true, true, true]);
    expect(results[3]).toMatchObject({ ok: false, error: { code: 'AWS_ERROR', retryable: false } });
    const batches = calls.filter((c) => c.name === 'SendMessageBatchCommand');
    expect(batches.map((c) => (c.input.Entries as unknown[]).length)).toEqual([7, 2]);
    const messages = await waitForMessages(local.sqs, await url(`${prefix}-send_email`), 9);
    const subjects = messages.map((m) => JSON.parse(m.Body ?? '').payload.subject).sort();
    expect(subjects).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9].map((i) => `retry ${i}`).sort());
    client.destroy();
  });

  it('refuses a task over the claim-check limit before sending anything', async () => {
    const p = producer({ largePayloads: { bucket } });
    const cell = 'x'.repeat(1000);
    const rows = Array.from({ length: 5000 }, () =>
      Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`c${i}`, cell])),
    );
    const payload = { title: 'Huge', columns: [{ key: 'c0' }], rows, destination: `s3://${bucket}/huge.pdf` };
    const error = await p.send('generate_report', payload).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', limit: MAX_CLAIM_CHECK_BYTES });
    const stored = await local.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'tq/claim-checks/generate_report/' }),
    );
    expect(stored.KeyCount ?? 0).toBe(0);
  });

  it('sends groups to the FIFO queue, with idempotencyKey as the deduplication id', async () => {
    const p = createProducer({ endpoint: local.endpoint.endpoint, prefix: fifoPrefix });
    const first = await p.send('send_email', email, { groupId: 'customer-1', idempotencyKey: 'receipt-1' });
    const again = await p.send('send_email', email, { groupId: 'customer-1', idempotencyKey: 'receipt-1' });
    await p.send('send_email', { ...email, subject: 'second' }, { groupId: 'customer-1' });
    expect(first.route).toBe('queue');
    expect(again.id).not.toBe(first.id);
    const fifoUrl = await url(`${fifoPrefix}-send_email.fifo`);
    const counts = await queueCounts(local.sqs, fifoUrl);
    // The duplicate was dropped by SQS within the deduplication window.
    expect(counts.visible).toBe(2);
    await expect(p.send('send_email', email, { groupId: 'g', delaySeconds: 5 })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
    await expect(p.send('send_email', email, { groupId: 'has space' })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
  });

  it('runs batchConcurrency calls at once, never more (each call held 50 ms at the client)', async () => {
    const client = new SQSClient(local.endpoint.clientConfig);
    let running = 0;
    let peak = 0;
    client.middlewareStack.add(
      (next, ctx) => async (args) => {
        if (ctx.commandName !== 'SendMessageBatchCommand') return next(args);
        running += 1;
        peak = Math.max(peak, running);
        try {
          await new Promise((resolve) => setTimeout(resolve, 50));
          return await next(args);
        } finally {
          running -= 1;
        }
      },
      { step: 'initialize', name: 'holdBatches' },
    );
    const p = producer({ sqs: client, batchConcurrency: 4 });
    for (const count of [60, 250]) {
      peak = 0;
      const results = await p.sendBatch(
        Array.from({ length: count }, (_, i) => ({
          task: 'send_email' as const,
          payload: { ...email, subject: `c${i}` },
          options: { route: 'queue' as const },
        })),
      );
      expect(results.every((r) => r.ok)).toBe(true);
      expect(peak).toBe(4);
    }
    client.destroy();
  });

  it('keeps a FIFO group in order across batches, even when an earlier call is slow (first call delayed at the client)', async () => {
    const client = new SQSClient(local.endpoint.clientConfig);
    let calls = 0;
    client.middlewareStack.add(
      (next, ctx) => async (args) => {
        // The first batch call answers late: a later batch must not overtake it.
        if (ctx.commandName === 'SendMessageBatchCommand' && calls++ === 0) {
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        return next(args);
      },
      { step: 'initialize', name: 'delayFirstBatch' },
    );
    const fifoUrl = await url(`${fifoPrefix}-send_email.fifo`);
    await local.sqs.send(new PurgeQueueCommand({ QueueUrl: fifoUrl }));
    const p = createProducer({ endpoint: local.endpoint.endpoint, prefix: fifoPrefix, sqs: client });
    const items: BatchItem[] = Array.from({ length: 35 }, (_, i) => ({
      task: 'send_email',
      payload: { ...email, subject: `n${i}` },
      options: { groupId: 'orders-1' },
    }));
    const results = await p.sendBatch(items);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(calls).toBe(4);
    const subjects: string[] = [];
    while (subjects.length < 35) {
      const out = await local.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: fifoUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of out.Messages ?? []) {
        const parsed = parseTask(JSON.parse(message.Body ?? ''));
        if (parsed.ok) subjects.push((parsed.envelope.payload as { subject: string }).subject);
        await local.sqs.send(new DeleteMessageCommand({ QueueUrl: fifoUrl, ReceiptHandle: message.ReceiptHandle }));
      }
    }
    expect(subjects).toEqual(items.map((_, i) => `n${i}`));
    client.destroy();
  });

  it('carries the active OpenTelemetry trace context when the caller does not pass one', async () => {
    const storage = new AsyncLocalStorage<Context>();
    const manager: ContextManager = {
      active: () => storage.getStore() ?? ROOT_CONTEXT,
      with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
      bind: (_ctx, target) => target,
      enable() {
        return this;
      },
      disable() {
        storage.disable();
        return this;
      },
    };
    context.setGlobalContextManager(manager);
    try {
      const spanContext = {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: TraceFlags.SAMPLED,
      };
      const sent = await context.with(trace.setSpanContext(ROOT_CONTEXT, spanContext), () =>
        producer().send('process_image', image, { route: 'queue' }),
      );
      const messages = await waitForMessages(local.sqs, await url(`${prefix}-process_image`), 1);
      const message = messages.find((m) => JSON.parse(m.Body ?? '').id === sent.id);
      const expected = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      expect(JSON.parse(message?.Body ?? '').traceparent).toBe(expected);
      expect(message?.MessageAttributes?.traceparent?.StringValue).toBe(expected);
    } finally {
      context.disable();
    }
  });
});
