import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createTask, type TaskName, type TaskPayload } from '@tq/contracts';
import { createQueueWithDlq, type LocalEndpoint, type SpawnedProcess, spawnTs, type TestQueue } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { createWorker, type Worker, type WorkerEvents, type WorkerOptions } from '../src/index.js';

export const silent = pino({ level: 'silent' });

export const samples = {
  send_email: { to: ['ada@example.com'], subject: 'Hello', text: 'Hi Ada' },
} satisfies Partial<{ [K in TaskName]: TaskPayload<K> }>;

/** One local endpoint per test file; workers created through `harness.worker` are stopped after each test. */
export function useHarness() {
  const local = useLocalEndpoint();
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });
  return {
    get endpoint(): LocalEndpoint {
      return local.endpoint;
    },
    get sqs(): SQSClient {
      return local.sqs;
    },
    get s3(): S3Client {
      return local.s3;
    },
    queues(options: { fifo?: boolean; maxReceiveCount?: number } = {}): Promise<{ queue: TestQueue; dlq: TestQueue }> {
      const name = `w-${Math.random().toString(36).slice(2, 10)}${options.fifo ? '.fifo' : ''}`;
      return createQueueWithDlq(local.sqs, {
        name,
        maxReceiveCount: options.maxReceiveCount ?? 5,
      });
    },
    worker<TTask extends TaskName>(options: WorkerOptions<TTask>): Worker<TTask> {
      const worker = createWorker({
        sqs: local.sqs,
        s3: local.s3,
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

/** A line the worker-process fixture writes to its results file. */
export interface ResultLine {
  event: string;
  id?: string;
  attempt?: number;
  code?: string;
  maxRss?: number;
  /** A flow's task: its path, its SQS message, how many results its input held. */
  path?: string;
  messageId?: string;
  inputs?: number;
  pid: number;
}

/** An empty results file for the worker-process fixture. */
export function resultsFile(): string {
  const file = join(tmpdir(), `tq-worker-${process.pid}-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(file, '');
  return file;
}

export function readResults(file: string): ResultLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ResultLine);
}

const workerProcessMain = fileURLToPath(new URL('./fixtures/worker-process.ts', import.meta.url));

/** The worker-process fixture in a child process of its own (`TQ_ENDPOINT`, `QUEUE_URL`, `RESULTS_FILE`, …). */
export function spawnWorkerProcess(env: Record<string, string>): SpawnedProcess {
  return spawnTs(workerProcessMain, [], env);
}

/** Sends `count` valid envelopes in batches of 10; returns their ids. */
export async function sendMany(sqs: SQSClient, queueUrl: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 10) {
    const envelopes = Array.from({ length: Math.min(10, count - start) }, () =>
      createTask('send_email', samples.send_email),
    );
    ids.push(...envelopes.map((envelope) => envelope.id));
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: envelopes.map((envelope, i) => ({ Id: `m${i}`, MessageBody: JSON.stringify(envelope) })),
      }),
    );
  }
  return ids;
}

/** Makes every PublishBatch reach the topic twice: each task a flow starts with is delivered twice. */
export function publishTwice(sns: SNSClient): void {
  sns.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === 'PublishBatchCommand') await next(args);
      return out;
    },
    { step: 'initialize', name: 'publishTwice' },
  );
}
