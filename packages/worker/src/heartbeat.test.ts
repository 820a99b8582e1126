import type { SQSClient } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWorker } from './worker.js';

interface Call {
  name: string;
  at: number;
  input: Record<string, unknown>;
}

/**
 * An SQS client answering from memory: fake timers cannot drive a real endpoint, and the
 * heartbeat is a matter of timers. One message is received; later receives wait until aborted.
 */
function stubSqs(body: string) {
  const calls: Call[] = [];
  let delivered = false;
  const client = {
    async send(
      command: { constructor: { name: string }; input: Record<string, unknown> },
      options?: { abortSignal?: AbortSignal },
    ) {
      const name = command.constructor.name;
      calls.push({ name, at: Date.now(), input: command.input });
      const entries = (command.input.Entries ?? []) as { Id: string }[];
      switch (name) {
        case 'GetQueueAttributesCommand':
          return { Attributes: {} };
        case 'ReceiveMessageCommand':
          if (!delivered) {
            delivered = true;
            return {
              Messages: [
                { MessageId: 'm-1', ReceiptHandle: 'r-1', Body: body, Attributes: { ApproximateReceiveCount: '1' } },
              ],
            };
          }
          return new Promise((_, reject) => {
            options?.abortSignal?.addEventListener('abort', () =>
              reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
            );
          });
        default:
          return { Successful: entries.map((entry) => ({ Id: entry.Id })), Failed: [] };
      }
    },
    destroy() {},
  };
  return { client: client as unknown as SQSClient, calls };
}

describe('heartbeat (fake timers, stub SQS client)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps a 10-minute task invisible, at most one call per tick, and never lets its visibility lapse', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const envelope = {
      id: '0b6a3c52-5d2e-4d61-9a64-3c1c0c6f4f1e',
      task: 'send_email',
      version: 1,
      createdAt: '2026-11-28T10:00:00.000Z',
      payload: { to: ['ada@example.com'], subject: 'Hi', text: 'Hello' },
    };
    const { client, calls } = stubSqs(JSON.stringify(envelope));
    let finish: () => void = () => undefined;
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const worker = createWorker({
      task: 'send_email',
      sqs: client,
      queueUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/tq-send_email',
      deadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/tq-send_email-dlq',
      visibilityTimeoutSeconds: 30,
      handlerTimeoutMs: 0,
      logger: pino({ level: 'silent' }),
      handleSignals: false,
      handler: () =>
        new Promise<void>((resolve) => {
          finish = resolve;
          started();
        }),
    });
    const succeeded = new Promise((resolve) => worker.once('succeeded', resolve));
    await worker.start();
    await running;
    const receivedAt = calls.find((call) => call.name === 'ReceiveMessageCommand')?.at as number;
    for (let second = 0; second < 600; second += 1) await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(50); // the batcher's window: the last extension goes out

    const extensions = calls.filter((call) => call.name === 'ChangeMessageVisibilityBatchCommand');
    // Every extension renews the full visibility timeout, and each comes before the last one lapses.
    let visibleUntil = receivedAt + 30_000;
    for (const extension of extensions) {
      expect(extension.at).toBeLessThan(visibleUntil);
      expect(extension.input.Entries).toEqual([
        { Id: expect.any(String), ReceiptHandle: 'r-1', VisibilityTimeout: 30 },
      ]);
      visibleUntil = extension.at + 30_000;
    }
    expect(Date.now()).toBeLessThan(visibleUntil);
    // One call per heartbeat tick (a third of the visibility timeout) at most, for one message.
    expect(extensions.length).toBeGreaterThanOrEqual(20);
    expect(extensions.length).toBeLessThanOrEqual(60);

    finish();
    await vi.advanceTimersByTimeAsync(100);
    await succeeded;
    await vi.advanceTimersByTimeAsync(100);
    expect(calls.filter((call) => call.name === 'DeleteMessageBatchCommand')).toHaveLength(1);
    const stopped = worker.stop();
    await vi.advanceTimersByTimeAsync(1000);
    await stopped;
    // No heartbeat after the task ended.
    expect(calls.filter((call) => call.name === 'ChangeMessageVisibilityBatchCommand')).toHaveLength(extensions.length);
  });
});
