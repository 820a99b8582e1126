import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import { createCleanupWorker } from '@tq/cleanup-worker';
import type { TaskName, TaskPayload } from '@tq/contracts';
import { createEmailWorker } from '@tq/email-worker';
import { createImageWorker } from '@tq/image-worker';
import { type BatchItem, createProducer } from '@tq/producer-sdk';
import { createReportWorker } from '@tq/report-worker';
import { renderReport } from '@tq/report-worker/render';
import type { AwsClientConfig } from '@tq/testing';
import type { Worker } from '@tq/worker';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import sharp from 'sharp';
import { createQueues, freshName, pool, type Scenario } from '../lib.js';

const silent = pino({ level: 'silent' });
const work = join(tmpdir(), 'tq-bench');
mkdirSync(work, { recursive: true });

interface QueueConfig {
  clientConfig: AwsClientConfig;
  queueUrl: string;
  dlqUrl: string;
  bucket: string;
  count: number;
}

async function newBucket(config: AwsClientConfig): Promise<string> {
  const s3 = new S3Client(config);
  const bucket = freshName('b').toLowerCase().slice(0, 60);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  return bucket;
}

async function enqueue<T extends TaskName>(
  config: AwsClientConfig,
  queueUrl: string,
  task: T,
  payloads: TaskPayload<T>[],
) {
  // The producer cuts batches by size as well as count (report payloads are large).
  const producer = createProducer({ sqs: new SQSClient(config), queueUrls: { [task]: queueUrl } });
  const results = await producer.sendBatch(
    payloads.map((payload) => ({ task, payload, options: { route: 'queue' as const } }) as BatchItem),
  );
  producer.close();
  if (results.some((result) => !result.ok)) throw new Error(`enqueue ${task}: some tasks were not sent`);
}

/** The runtime options every app contender gets: its fresh queue and DLQ, quiet, no signal handling. */
function workerOptions(config: QueueConfig) {
  return {
    sqs: new SQSClient(config.clientConfig),
    queueUrl: config.queueUrl,
    deadLetterQueueUrl: config.dlqUrl,
    logger: silent,
    handleSignals: false,
    waitTimeSeconds: 1,
  };
}

/** Runs a worker until it has handled `count` tasks; returns seconds and the handlers' results. */
async function drain<T extends TaskName>(
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

// ---- image -------------------------------------------------------------------------------------

const VARIANTS = [
  { name: 'thumb', width: 200, height: 200, fit: 'cover' as const, format: 'webp' as const, quality: 80 },
  { name: 'medium', width: 800, format: 'jpeg' as const, quality: 82 },
  { name: 'large', width: 1600, format: 'webp' as const, quality: 80 },
];

/** 3000×2000 JPEGs with photo-like detail, made once per machine and reused. */
async function sourceImages(count: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const file = join(work, `photo-${i}.jpg`);
    try {
      readFileSync(file);
    } catch {
      const noise = await sharp({
        create: {
          width: 3000,
          height: 2000,
          channels: 3,
          background: '#777777',
          noise: { type: 'gaussian', mean: 120, sigma: 30 + i },
        },
      })
        .blur(1.2)
        .jpeg({ quality: 90 })
        .toBuffer();
      writeFileSync(file, noise);
    }
    files.push(file);
  }
  return files;
}

interface ImageConfig extends QueueConfig {
  files: string[];
}

export const image: Scenario<ImageConfig> = {
  name: 'image',
  title: '3000×2000 JPEG → three variants (webp 200², jpeg 800, webp 1600)',
  unit: 'images/s',
  contenders: ['tq image worker', 'plain sharp loop'],
  reference: 'plain sharp loop',
  referenceNote: 'sharp on the same images from memory, one image per core, no queue or S3: the ceiling',
  rounds: (context) => (context.quick ? 1 : 2),
  async prepare(context) {
    const count = context.quick ? 6 : 16;
    const files = await sourceImages(count);
    const { queueUrl, dlqUrl } = await createQueues(context.clientConfig, 'image');
    const bucket = await newBucket(context.clientConfig);
    const s3 = new S3Client(context.clientConfig);
    await Promise.all(
      files.map((file, i) =>
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: `in/${i}.jpg`, Body: readFileSync(file) })),
      ),
    );
    s3.destroy();
    await enqueue(
      context.clientConfig,
      queueUrl,
      'process_image',
      files.map((_, i) => ({
        source: `s3://${bucket}/in/${i}.jpg`,
        destination: `s3://${bucket}/out/${i}/`,
        variants: VARIANTS,
      })),
    );
    return { clientConfig: context.clientConfig, queueUrl, dlqUrl, bucket, count, files };
  },
  async run(contender, config) {
    if (contender === 'tq image worker') {
      const s3 = new S3Client(config.clientConfig);
      const worker = createImageWorker({
        s3,
        worker: workerOptions(config),
      });
      const { seconds } = await drain(worker, config.count);
      return { value: config.count / seconds };
    }
    // The best plain sharp does on these cores: images from memory, one per core at a time,
    // one libvips thread per operation (no queue, no S3, no validation).
    const images = config.files.map((file) => readFileSync(file));
    sharp.concurrency(1);
    sharp.cache(false);
    const started = performance.now();
    await pool(images, availableParallelism(), async (input) => {
      for (const v of VARIANTS) {
        await sharp(input)
          .autoOrient()
          .resize({
            width: v.width,
            ...(v.height ? { height: v.height } : {}),
            fit: v.fit ?? 'inside',
            withoutEnlargement: true,
          })
          .toFormat(v.format, { quality: v.quality })
          .toBuffer();
      }
    });
    return { value: images.length / ((performance.now() - started) / 1000), extra: { cores: availableParallelism() } };
  },
};

// ---- cleanup -----------------------------------------------------------------------------------

function csvFile(rows: number): string {
  const file = join(work, `customers-${rows}.csv`);
  try {
    readFileSync(file, { flag: 'r' }).subarray(0, 1);
    return file;
  } catch {}
  const lines: string[] = ['id,name,email,amount,signup,country,notes'];
  for (let i = 0; i < rows; i += 1) {
    lines.push(
      `${i},  Customer ${i % 9973} Name ,USER${i}@Example.com,${(i * 37) % 10000}.${i % 100},${1 + (i % 28)}/${1 + (i % 12)}/2024,${['uk', 'us', 'de', 'fr'][i % 4]},"note ${randomBytes(3).toString('hex')}, with comma"`,
    );
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

interface CleanupConfig extends QueueConfig {
  key: string;
  megabytes: number;
}

export const cleanup: Scenario<CleanupConfig> = {
  name: 'cleanup',
  title: 'clean a 1,000,000-row CSV, S3 to S3',
  unit: 'MB/s',
  contenders: ['tq cleanup worker', 'csv-parse → csv-stringify pipe'],
  reference: 'csv-parse → csv-stringify pipe',
  referenceNote: 'the same file streamed S3 → csv-parse → csv-stringify → S3 with no rules: the ceiling',
  rounds: (context) => (context.quick ? 1 : 2),
  async prepare(context) {
    const file = csvFile(context.quick ? 200_000 : 1_000_000);
    const data = readFileSync(file);
    const { queueUrl, dlqUrl } = await createQueues(context.clientConfig, 'cleanup');
    const bucket = await newBucket(context.clientConfig);
    const s3 = new S3Client(context.clientConfig);
    await new Upload({ client: s3, params: { Bucket: bucket, Key: 'in/customers.csv', Body: data } }).done();
    s3.destroy();
    await enqueue(context.clientConfig, queueUrl, 'cleanup_data', [
      {
        source: `s3://${bucket}/in/customers.csv`,
        destination: `s3://${bucket}/out/`,
        rules: {
          columns: {
            email: { type: 'email' },
            amount: { type: 'number' },
            signup: { type: 'date', dateFormats: ['D/M/YYYY'] },
            country: { case: 'upper' },
          },
          requiredColumns: ['id', 'email'],
        },
      },
    ]);
    return {
      clientConfig: context.clientConfig,
      queueUrl,
      dlqUrl,
      bucket,
      count: 1,
      key: 'in/customers.csv',
      megabytes: data.byteLength / 1e6,
    };
  },
  async run(contender, config) {
    const s3 = new S3Client(config.clientConfig);
    if (contender === 'tq cleanup worker') {
      const worker = createCleanupWorker({
        s3,
        worker: workerOptions(config),
      });
      const { seconds, results } = await drain(worker, 1);
      const summary = results[0] as { rowsOut: number };
      return { value: config.megabytes / seconds, extra: { rowsOut: summary.rowsOut } };
    }
    const started = performance.now();
    const object = await s3.send(new GetObjectCommand({ Bucket: config.bucket, Key: config.key }));
    const out = new PassThrough();
    const upload = new Upload({
      client: s3,
      params: { Bucket: config.bucket, Key: 'out/pipe.csv', Body: out },
      partSize: 8 * 1024 * 1024,
      queueSize: 2,
    });
    await Promise.all([
      pipeline(object.Body as NodeJS.ReadableStream, parse({ bom: true, relax_column_count: true }), stringify(), out),
      upload.done(),
    ]);
    return { value: config.megabytes / ((performance.now() - started) / 1000) };
  },
};

// ---- email -------------------------------------------------------------------------------------

interface EmailConfig extends QueueConfig {
  smtpUrl: string;
}

const mail = (i: number) => ({
  to: [`customer${i}@example.com`],
  subject: `Your order ${i} has shipped`,
  text: `Hello,\n\nYour order ${i} is on its way.\n\n— The shop`,
  html: `<p>Hello,</p><p>Your order <b>${i}</b> is on its way.</p><p>— The shop</p>`,
});

export const email: Scenario<EmailConfig> = {
  name: 'email',
  title: 'send mails to a local SMTP server (pool of 5 connections)',
  unit: 'emails/s',
  contenders: ['tq email worker', 'nodemailer pool loop'],
  reference: 'nodemailer pool loop',
  referenceNote: 'the same mails through the same nodemailer pool, 10 at a time, no queue: the ceiling',
  rounds: (context) => (context.quick ? 1 : 2),
  async prepare(context) {
    const count = context.quick ? 300 : 2000;
    const { queueUrl, dlqUrl } = await createQueues(context.clientConfig, 'email');
    await enqueue(
      context.clientConfig,
      queueUrl,
      'send_email',
      Array.from({ length: count }, (_, i) => mail(i)),
    );
    return { clientConfig: context.clientConfig, queueUrl, dlqUrl, bucket: '', count, smtpUrl: context.smtpUrl };
  },
  async run(contender, config) {
    if (contender === 'tq email worker') {
      const worker = createEmailWorker({
        s3: new S3Client(config.clientConfig),
        smtp: config.smtpUrl,
        from: 'Shop <shop@example.com>',
        poolSize: 5,
        worker: { ...workerOptions(config), concurrency: 10 },
      });
      const { seconds } = await drain(worker, config.count);
      return { value: config.count / seconds };
    }
    const transport = nodemailer.createTransport({ pool: true, url: config.smtpUrl, maxConnections: 5 } as never);
    const indexes = Array.from({ length: config.count }, (_, i) => i);
    const started = performance.now();
    await pool(indexes, 10, async (i) => {
      await transport.sendMail({ from: 'Shop <shop@example.com>', ...mail(i) });
    });
    const seconds = (performance.now() - started) / 1000;
    transport.close();
    return { value: config.count / seconds };
  },
};

// ---- report ------------------------------------------------------------------------------------

const reportPayload = (bucket: string, i: number): TaskPayload<'generate_report'> => ({
  title: `Monthly sales ${i}`,
  subtitle: 'Benchmark report',
  rows: Array.from({ length: 2000 }, (_, r) => ({
    region: ['north', 'south', 'east', 'west'][r % 4] as string,
    product: `product-${r % 41}`,
    units: (r % 17) + 1,
    revenue: ((r * 7919) % 100_000) / 100,
  })),
  columns: [
    { key: 'region', label: 'Region' },
    { key: 'product', label: 'Product' },
    { key: 'units', label: 'Units', format: 'number' },
    { key: 'revenue', label: 'Revenue', format: 'currency' },
  ],
  groupBy: 'region',
  aggregates: [
    { column: 'units', fn: 'sum' },
    { column: 'revenue', fn: 'sum' },
  ],
  chart: { type: 'bar', aggregate: 1 },
  destination: `s3://${bucket}/reports/${i}.pdf`,
});

export const report: Scenario<QueueConfig> = {
  name: 'report',
  title: 'render 2,000-row PDF reports with a summary and chart',
  unit: 'pages/s',
  contenders: ['tq report worker', 'renderReport loop'],
  reference: 'renderReport loop',
  referenceNote: 'the same renderer called in a loop, no queue or S3: the ceiling',
  rounds: (context) => (context.quick ? 1 : 2),
  async prepare(context) {
    const count = context.quick ? 3 : 8;
    const { queueUrl, dlqUrl } = await createQueues(context.clientConfig, 'report');
    const bucket = await newBucket(context.clientConfig);
    await enqueue(
      context.clientConfig,
      queueUrl,
      'generate_report',
      Array.from({ length: count }, (_, i) => reportPayload(bucket, i)),
    );
    return { clientConfig: context.clientConfig, queueUrl, dlqUrl, bucket, count };
  },
  async run(contender, config) {
    if (contender === 'tq report worker') {
      const s3 = new S3Client(config.clientConfig);
      const worker = createReportWorker({
        s3,
        producer: {
          send: () => Promise.reject(new Error('no email in this benchmark')),
          sendBatch: () => Promise.resolve([]),
          close: () => undefined,
        },
        worker: workerOptions(config),
      });
      const { seconds, results } = await drain(worker, config.count);
      const pages = results.reduce((sum: number, r) => sum + (r as { pages: number }).pages, 0);
      return { value: pages / seconds, extra: { pages } };
    }
    let pages = 0;
    const started = performance.now();
    for (let i = 0; i < config.count; i += 1) {
      const payload = reportPayload(config.bucket, i);
      const rows = (async function* () {
        let n = 0;
        for (const values of payload.rows ?? []) yield { number: ++n, values };
      })();
      pages += (await renderReport(payload, rows)).pages;
    }
    return { value: pages / ((performance.now() - started) / 1000), extra: { pages } };
  },
};
