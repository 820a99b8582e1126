// What the four app scenarios share: fresh queues and buckets, enqueueing through the producer,
// the runtime options every app contender gets, and running a worker until its tasks are done.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { TaskName, TaskPayload } from '@tq/contracts';
import type { BatchItem } from '@tq/producer-sdk';
import type { AwsClientConfig } from '@tq/testing';
import type { Worker } from '@tq/worker';
import { pino } from 'pino';
import type { BenchContext } from '../lib.js';
import { deleteQueues, freshName } from '../lib.js';

const silent = pino({ level: 'silent' });
export const work = join(tmpdir(), 'tq-bench');
mkdirSync(work, { recursive: true });

export interface QueueConfig {
  clientConfig: AwsClientConfig;
  queueUrl: string;
  dlqUrl: string;
  bucket: string;
  count: number;
}

export async function newBucket(config: AwsClientConfig): Promise<string> {
  const s3 = new S3Client(config);
  const bucket = freshName('b').toLowerCase().slice(0, 60);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  return bucket;
}

export async function enqueue<T extends TaskName>(
  config: AwsClientConfig,
  queueUrl: string,
  task: T,
  payloads: TaskPayload<T>[],
) {
  // The producer cuts batches by size as well as count (report payloads are large).
  // Loaded here, in the orchestrator: the contender processes never load the producer (or SNS).
  const { createProducer } = await import('@tq/producer-sdk');
  const producer = createProducer({ sqs: new SQSClient(config), queueUrls: { [task]: queueUrl } });
  const results = await producer.sendBatch(
    payloads.map((payload) => ({ task, payload, options: { route: 'queue' as const } }) as BatchItem),
  );
  producer.close();
  if (results.some((result) => !result.ok)) throw new Error(`enqueue ${task}: some tasks were not sent`);
}

/**
 * The runtime options every app contender gets: its fresh queue and DLQ, quiet, no signal
 * handling, and SQS clients the worker makes itself from the endpoint setting, as the apps do.
 */
export function workerOptions(config: QueueConfig) {
  return {
    endpoint: config.clientConfig.endpoint,
    region: config.clientConfig.region,
    queueUrl: config.queueUrl,
    deadLetterQueueUrl: config.dlqUrl,
    // Each run's own bucket is where the app workers may read and write.
    ...(config.bucket ? { s3Allow: [config.bucket] } : {}),
    logger: silent,
    handleSignals: false,
    waitTimeSeconds: 1,
  };
}

/** Runs a worker until it has handled `count` tasks; returns seconds and the handlers' results. */
export async function drain<T extends TaskName>(
  worker: Worker<T>,
  count: number,
): Promise<{ seconds: number; results: unknown[] }> {
  const results: unknown[] = [];
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    worker.on('succeeded', ({ result }) => {
      results.push(result);
      if (results.length === count) resolve();
    });
    worker.on('dead-lettered', ({ code, reason }) => reject(new Error(`dead-lettered ${code}: ${reason}`)));
    void worker.start();
  });
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  return { seconds, results };
}

/**
 * After a run: deletes its bucket (objects first) and queues, so the emulator does not carry
 * every earlier run's files into the next run (its memory, and its garbage collection, grow).
 */
export async function cleanUp(context: BenchContext, config: QueueConfig): Promise<void> {
  if (config.bucket) {
    const s3 = new S3Client(context.clientConfig);
    try {
      for (;;) {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: config.bucket }));
        const keys = (listed.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
        if (keys.length === 0) break;
        for (const key of keys) await s3.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: key }));
      }
      await s3.send(new DeleteBucketCommand({ Bucket: config.bucket }));
    } finally {
      s3.destroy();
    }
  }
  await deleteQueues(context.clientConfig, config.queueUrl, config.dlqUrl);
}
