import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createRegistry, createTask, defineTask, FAILURE_ATTRIBUTES, Type } from '@tq/contracts';
import { queueCounts, waitForMessages } from '@tq/testing';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { NonRetryableError, RetryLaterError } from '../src/index.js';
import { latch, record, samples, sendEnvelope, useHarness } from './helpers.js';

const harness = useHarness();

describe('createWorker: receiving and running', () => {
  it('runs envelopes, SNS notifications (raw delivery off) and the seed flat form, then deletes them', async () => {
    const { queue } = await harness.queues();
    const seen: { id: string; subject: string; attempt: number }[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      handler: (payload, context) => {
        seen.push({ id: context.id, subject: payload.subject, attempt: context.attempt });
      },
    });
    const succeeded = record(worker, 'succeeded');
    await worker.start();

    const envelopeId = await sendEnvelope(harness.sqs, queue.url, { ...samples.send_email, subject: 'envelope' });
    const wrapped = createTask('send_email', { ...samples.send_email, subject: 'via sns' });
    await harness.sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: JSON.stringify({
          Type: 'Notification',
          MessageId: 'n-1',
          TopicArn: 'arn:aws:sns:us-east-1:000000000000:tq-tasks',
          Message: JSON.stringify(wrapped),
        }),
      }),
    );
    const flat = await harness.sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: JSON.stringify({
          task: 'send_email',
          to: 'grace@example.com',
          from: 'ops@example.com',
          subject: 'flat',
          body: 'seed form',
        }),
      }),
    );

    await succeeded.waitFor(3);
    expect(seen.map((s) => s.subject).sort()).toEqual(['envelope', 'flat', 'via sns']);
    expect(seen.find((s) => s.subject === 'envelope')?.id).toBe(envelopeId);
    expect(seen.find((s) => s.subject === 'via sns')?.id).toBe(wrapped.id);
    // A flat message has no id of its own: the SQS message id stands in, stable across redeliveries.
    expect(seen.find((s) => s.subject === 'flat')?.id).toBe(flat.MessageId);
    expect(seen.every((s) => s.attempt === 1)).toBe(true);
    await worker.stop();
    expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it('says at start which payload versions of its task it reads', async () => {
    const { queue } = await harness.queues();
    const schema = Type.Object({ name: Type.String() });
    const greet = defineTask({
      name: 'greet_user',
      description: 'Greets.',
      versions: { 1: { schema }, 2: { schema } },
    });
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const worker = harness.worker({
      task: 'greet_user' as never,
      registry: createRegistry([greet]),
      queueUrl: queue.url,
      logger,
      handler: () => undefined,
    });
    await worker.start();
    expect(lines.find((line) => line.msg === 'worker started')).toMatchObject({ task: 'greet_user', versions: [1, 2] });
  });

  it('never holds more than `concurrency` messages, and a slow one does not hold up the rest', async () => {
    const { queue } = await harness.queues();
    const slow = latch();
    let running = 0;
    let peak = 0;
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 4,
      handler: async (payload) => {
        running += 1;
        peak = Math.max(peak, running);
        if (payload.subject === 'slow') await slow.promise;
        else await new Promise((resolve) => setTimeout(resolve, 20));
        running -= 1;
      },
    });
    const succeeded = record(worker, 'succeeded');
    let maxHeld = 0;
    worker.on('received', () => {
      maxHeld = Math.max(maxHeld, worker.inFlight);
    });
    await sendEnvelope(harness.sqs, queue.url, { ...samples.send_email, subject: 'slow' });
    for (let i = 0; i < 30; i += 1) await sendEnvelope(harness.sqs, queue.url);
    await worker.start();

    // All 30 fast tasks finish while the slow one is still running.
    await succeeded.waitFor(30);
    expect(running).toBe(1);
    slow.open();
    await succeeded.waitFor(31);
    expect(peak).toBeLessThanOrEqual(4);
    expect(maxHeld).toBeLessThanOrEqual(4);
    expect(peak).toBe(4);
  });

  it('keeps a message invisible with the heartbeat while its handler outlives the visibility timeout', async () => {
    const { queue } = await harness.queues();
    const started = latch();
    const attempts: number[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      // 4 s: the heartbeat ticks every 1.3 s, so an event loop stalled for a second by a busy
      // machine still extends in time (the tick logic itself is checked with fake timers in src/).
      visibilityTimeoutSeconds: 4,
      handler: async (_payload, context) => {
        attempts.push(context.attempt);
        started.open();
        await new Promise((resolve) => setTimeout(resolve, 9000));
      },
    });
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    await sendEnvelope(harness.sqs, queue.url);
    await started.promise;
    // Another consumer polling all through the 9 s handler never sees the message.
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline) {
      const out = await harness.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queue.url, WaitTimeSeconds: 1, VisibilityTimeout: 0 }),
      );
      expect(out.Messages ?? []).toHaveLength(0);
    }
    await succeeded.waitFor(1);
    expect(attempts).toEqual([1]);
    await worker.stop();
    expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ visible: 0, inFlight: 0 });
  });
});

describe('createWorker: failures', () => {
  it('retries a thrown error after the backoff for its attempt, counted by SQS', async () => {
    const { queue } = await harness.queues({ maxReceiveCount: 5 });
    const times: { attempt: number; at: number }[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      retry: { baseSeconds: 1, jitter: 'none' },
      handler: (_payload, context) => {
        times.push({ attempt: context.attempt, at: Date.now() });
        if (context.attempt < 3) throw new Error(`flaky ${context.attempt}`);
      },
    });
    const retrying = record(worker, 'retrying');
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    await sendEnvelope(harness.sqs, queue.url);
    await succeeded.waitFor(1);
    expect(times.map((t) => t.attempt)).toEqual([1, 2, 3]);
    expect(retrying.items.map((r) => r.delaySeconds)).toEqual([1, 2]);
    // Not visible again before its backoff (1 s, then 2 s): observed through the redeliveries.
    const [first, second, third] = times as [(typeof times)[0], (typeof times)[0], (typeof times)[0]];
    expect(second.at - first.at).toBeGreaterThanOrEqual(950);
    expect(third.at - second.at).toBeGreaterThanOrEqual(1950);
  });

  it('honours RetryLaterError delays', async () => {
    const { queue } = await harness.queues();
    const times: number[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      retry: { baseSeconds: 0 },
      handler: (_payload, context) => {
        times.push(Date.now());
        if (context.attempt === 1) throw new RetryLaterError(2, 'rate limited');
      },
    });
    const retrying = record(worker, 'retrying');
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    await sendEnvelope(harness.sqs, queue.url);
    await succeeded.waitFor(1);
    expect(retrying.items[0]?.delaySeconds).toBe(2);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(1950);
  });

  it('dead-letters what can never succeed at once, with the reason, and never runs or retries it', async () => {
    const { queue, dlq } = await harness.queues({ maxReceiveCount: 5 });
    const handled: string[] = [];
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      handler: (payload) => {
        handled.push(payload.subject);
        if (payload.subject === 'reject me')
          throw new NonRetryableError('550 mailbox unavailable', { code: 'SMTP_550' });
      },
    });
    const deadLettered = record(worker, 'dead-lettered');
    await worker.start();
    const bodies = {
      INVALID_JSON: '{"task": "send_email", oops',
      NOT_AN_OBJECT: '[1, 2, 3]',
      UNKNOWN_TASK: JSON.stringify({ task: 'mine_bitcoin', payload: {}, id: crypto.randomUUID(), version: 1 }),
      SCHEMA_VIOLATION: JSON.stringify({ ...createTask('send_email', samples.send_email), payload: { to: [] } }),
      WRONG_TASK: JSON.stringify(
        createTask('process_image', {
          source: 's3://tq-artifacts/in.jpg',
          destination: 's3://tq-artifacts/out/',
          variants: [{ name: 'thumb', width: 100, format: 'webp' }],
        }),
      ),
      UNSUPPORTED_VERSION: JSON.stringify({ ...createTask('send_email', samples.send_email), version: 7 }),
    };
    for (const body of Object.values(bodies)) {
      await harness.sqs.send(
        new SendMessageCommand({
          QueueUrl: queue.url,
          MessageBody: body,
          MessageAttributes: { task: { DataType: 'String', StringValue: 'send_email' } },
        }),
      );
    }
    const rejectedId = await sendEnvelope(harness.sqs, queue.url, { ...samples.send_email, subject: 'reject me' });

    await deadLettered.waitFor(7);
    expect(deadLettered.items.map((d) => d.code).sort()).toEqual([...Object.keys(bodies), 'SMTP_550'].sort());
    expect(handled).toEqual(['reject me']);
    expect(deadLettered.items.every((d) => d.attempt === 1)).toBe(true);

    const inDlq = await waitForMessages(harness.sqs, dlq.url, 7);
    const byCode = new Map(inDlq.map((m) => [m.MessageAttributes?.[FAILURE_ATTRIBUTES.code]?.StringValue, m] as const));
    for (const [code, body] of Object.entries(bodies)) {
      const message = byCode.get(code);
      expect(message?.Body, code).toBe(body);
      expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.sourceQueue]?.StringValue).toBe(queue.url);
      expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.receiveCount]?.StringValue).toBe('1');
      expect(message?.MessageAttributes?.task?.StringValue).toBe('send_email');
      const failedAt = Date.parse(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.firstFailureAt]?.StringValue ?? '');
      expect(Date.now() - failedAt).toBeLessThan(60_000);
    }
    expect(byCode.get('SCHEMA_VIOLATION')?.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue).toContain(
      '/payload/to',
    );
    const smtp = byCode.get('SMTP_550');
    expect(smtp?.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue).toBe('550 mailbox unavailable');
    expect(JSON.parse(smtp?.Body ?? '{}').id).toBe(rejectedId);

    await worker.stop();
    expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('dead-letters with RETRIES_EXHAUSTED and the last error once maxReceiveCount attempts failed', async () => {
    const { queue, dlq } = await harness.queues({ maxReceiveCount: 2 });
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      retry: { baseSeconds: 0 },
      handler: (_payload, context) => {
        throw new Error(`boom on attempt ${context.attempt}`);
      },
    });
    const deadLettered = record(worker, 'dead-lettered');
    const retrying = record(worker, 'retrying');
    await worker.start();
    await sendEnvelope(harness.sqs, queue.url);
    const [dead] = await deadLettered.waitFor(1);
    expect(retrying.items).toHaveLength(1);
    expect(dead).toMatchObject({ code: 'RETRIES_EXHAUSTED', attempt: 2 });
    const [message] = await waitForMessages(harness.sqs, dlq.url, 1);
    expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue).toBe(
      'failed 2 attempts; last error: boom on attempt 2',
    );
    expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.receiveCount]?.StringValue).toBe('2');
  });

  it('retries a handler that times out, with its signal aborted', async () => {
    const { queue } = await harness.queues();
    let abortedReason: unknown;
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      handlerTimeoutMs: 200,
      retry: { baseSeconds: 0 },
      handler: async (_payload, context) => {
        if (context.attempt > 1) return;
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
        abortedReason = context.signal.reason;
      },
    });
    const retrying = record(worker, 'retrying');
    const succeeded = record(worker, 'succeeded');
    await worker.start();
    await sendEnvelope(harness.sqs, queue.url);
    await succeeded.waitFor(1);
    expect(retrying.items[0]?.error).toMatchObject({ code: 'HANDLER_TIMEOUT' });
    expect(abortedReason).toMatchObject({ code: 'HANDLER_TIMEOUT' });
  });

  it('times out handlers that never look at their signal, each on its own clock, and keeps their slot until they end', async () => {
    const { queue } = await harness.queues();
    const startedAt = new Map<string, number>();
    const ranFor: number[] = [];
    const signalSeenAborted: boolean[] = [];
    let running = 0;
    let peak = 0;
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 2,
      handlerTimeoutMs: 300,
      retry: { baseSeconds: 0 },
      handler: async (_payload, context) => {
        if (context.attempt > 1) return 'second attempt';
        startedAt.set(context.messageId, Date.now());
        running += 1;
        peak = Math.max(peak, running);
        // Ignores the signal while it works, and looks only afterwards.
        await new Promise((resolve) => setTimeout(resolve, 600));
        signalSeenAborted.push(context.signal.aborted);
        running -= 1;
        return 'too late';
      },
    });
    const succeeded = record(worker, 'succeeded');
    worker.on('retrying', ({ messageId }) => ranFor.push(Date.now() - (startedAt.get(messageId) ?? 0)));
    await worker.start();
    for (const subject of ['1', '2', '3']) {
      await sendEnvelope(harness.sqs, queue.url, { ...samples.send_email, subject });
    }
    await succeeded.waitFor(3);
    expect(succeeded.items.map((item) => item.result)).toEqual(['second attempt', 'second attempt', 'second attempt']);
    // The third started only when a slot came free (the first two ran on past their timeout);
    // its timeout counted from its own start, not the others'.
    expect(ranFor).toHaveLength(3);
    for (const ms of ranFor) expect(ms).toBeGreaterThanOrEqual(250);
    expect(peak).toBeLessThanOrEqual(2);
    await vi.waitFor(() => expect(signalSeenAborted).toEqual([true, true, true]));
  });
});
