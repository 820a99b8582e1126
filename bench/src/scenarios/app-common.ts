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
import type { BenchContext, Measurement, Scenario } from '../lib.js';
import { createQueues, deleteQueues, freshName } from '../lib.js';

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

/** What each app scenario measures, and the ceiling it is measured against: one table for the four. */
const APP_SCENARIOS = {
  email: {
    title: 'send mails to a local SMTP server (pool of 5 connections)',
    unit: 'emails/s',
    tq: 'tq email worker',
    ceiling: 'nodemailer pool loop',
    note: 'the same mails through the same nodemailer pool, 10 at a time, no queue: the ceiling',
    bucket: false,
  },
  image: {
    title: '3000×2000 JPEG → three variants (webp 200², jpeg 800, webp 1600)',
    unit: 'images/s',
    tq: 'tq image worker',
    ceiling: 'plain sharp loop',
    note: 'sharp on the same images from memory, one image per core, no queue or S3: the ceiling',
    bucket: true,
  },
  cleanup: {
    title: 'clean a 1,000,000-row CSV, S3 to S3',
    unit: 'MB/s',
    tq: 'tq cleanup worker',
    ceiling: 'csv-parse → csv-stringify pipe',
    note: 'the same file streamed S3 → csv-parse → csv-stringify → S3 with no rules: the ceiling',
    bucket: true,
  },
  report: {
    title: 'render 2,000-row PDF reports with a summary and chart',
    unit: 'pages/s',
    tq: 'tq report worker',
    ceiling: 'renderReport loop',
    note: 'the same renderer called in a loop, no queue or S3: the ceiling',
    bucket: true,
  },
} as const;

/** A run's fresh resources, made before the scenario's own preparation. */
export interface AppResources {
  queueUrl: string;
  dlqUrl: string;
  /** The run's own bucket ('' for a scenario that needs none). */
  bucket: string;
}

/**
 * An app scenario: the tq app worker against the same work done without a queue (its ceiling),
 * two rounds (one with `--quick`), fresh queues and bucket per run, cleaned up after.
 */
export function appScenario<TConfig extends QueueConfig>(
  name: keyof typeof APP_SCENARIOS,
  parts: {
    prepare(context: BenchContext, resources: AppResources): Promise<TConfig>;
    runWorker(config: TConfig): Promise<Measurement>;
    runCeiling(config: TConfig): Promise<Measurement>;
  },
): Scenario<TConfig> {
  const meta = APP_SCENARIOS[name];
  return {
    name,
    title: meta.title,
    unit: meta.unit,
    contenders: [meta.tq, meta.ceiling],
    reference: meta.ceiling,
    referenceNote: meta.note,
    rounds: (context) => (context.quick ? 1 : 2),
    async prepare(context) {
      const { queueUrl, dlqUrl } = await createQueues(context.clientConfig, name);
      const bucket = meta.bucket ? await newBucket(context.clientConfig) : '';
      return await parts.prepare(context, { queueUrl, dlqUrl, bucket });
    },
    run: (contender, config) => (contender === meta.tq ? parts.runWorker(config) : parts.runCeiling(config)),
    verify: cleanUp,
  };
}
