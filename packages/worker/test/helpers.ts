import { S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createTask, type TaskName, type TaskPayload } from '@tq/contracts';
import { createQueueWithDlq, type LocalEndpoint, startLocalEndpoint, type TestQueue } from '@tq/testing';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createWorker, type Worker, type WorkerEvents, type WorkerOptions } from '../src/index.js';

export const silent = pino({ level: 'silent' });

export const samples = {
  send_email: { to: ['ada@example.com'], subject: 'Hello', text: 'Hi Ada' },
} satisfies Partial<{ [K in TaskName]: TaskPayload<K> }>;

/** One local endpoint per test file; workers created through `harness.worker` are stopped after each test. */
export function useHarness() {
  const state: { endpoint?: LocalEndpoint; sqs?: SQSClient; s3?: S3Client } = {};
  const workers: Worker[] = [];
  beforeAll(async () => {
    state.endpoint = await startLocalEndpoint();
    state.sqs = new SQSClient(state.endpoint.clientConfig);
    state.s3 = new S3Client({ ...state.endpoint.clientConfig, forcePathStyle: true });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });
  afterAll(async () => {
    state.sqs?.destroy();
    state.s3?.destroy();
    await state.endpoint?.stop();
  });
  return {
    get endpoint(): LocalEndpoint {
      return state.endpoint as LocalEndpoint;
    },
    get sqs(): SQSClient {
      return state.sqs as SQSClient;
    },
    get s3(): S3Client {
      return state.s3 as S3Client;
    },
    queues(options: { fifo?: boolean; maxReceiveCount?: number } = {}): Promise<{ queue: TestQueue; dlq: TestQueue }> {
      const name = `w-${Math.random().toString(36).slice(2, 10)}${options.fifo ? '.fifo' : ''}`;
      return createQueueWithDlq(state.sqs as SQSClient, {
        name,
        maxReceiveCount: options.maxReceiveCount ?? 5,
      });
    },
    worker<TTask extends TaskName>(options: WorkerOptions<TTask>): Worker<TTask> {
      const worker = createWorker({
        sqs: state.sqs as SQSClient,
        s3: state.s3 as S3Client,
        logger: silent,
        handleSignals: false,
        waitTimeSeconds: 1,
        ...options,
      });
      workers.push(worker as unknown as Worker);
      return worker;
    },
  };
}

/** Sends a valid envelope straight to a queue; returns the envelope id. */
export async function sendEnvelope(
  sqs: SQSClient,
  queueUrl: string,
  payload: TaskPayload<'send_email'> = samples.send_email,
  extra: { groupId?: string; delaySeconds?: number } = {},
): Promise<string> {
  const envelope = createTask('send_email', payload);
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(envelope),
      MessageAttributes: {
        task: { DataType: 'String', StringValue: 'send_email' },
        version: { DataType: 'Number', StringValue: '1' },
      },
      ...(extra.groupId ? { MessageGroupId: extra.groupId, MessageDeduplicationId: envelope.id } : {}),
      ...(extra.delaySeconds ? { DelaySeconds: extra.delaySeconds } : {}),
    }),
  );
  return envelope.id;
}

/** Records a worker event and waits for a number of them (no sleeps). */
export function record<E extends keyof WorkerEvents>(worker: Worker, event: E) {
  const items: WorkerEvents[E][0][] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  worker.on(event, ((...args: WorkerEvents[E]) => {
    items.push(args[0]);
    for (const waiter of waiters.filter((w) => items.length >= w.count)) waiter.resolve();
  }) as never);
  return {
    items,
    async waitFor(count: number, timeoutMs = 120_000): Promise<WorkerEvents[E][0][]> {
      if (items.length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`timed out waiting for ${count} "${event}" events (got ${items.length})`)),
            timeoutMs,
          );
          waiters.push({
            count,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
      }
      return items;
    },
  };
}

/** A promise with its resolve function, for handlers that wait on the test. */
export function latch<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
