import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createCleanupWorker } from '@tq/cleanup-worker';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';

import { appScenario, drain, enqueue, type QueueConfig, work, workerOptions } from './app-common.js';

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

export const cleanup = appScenario<CleanupConfig>('cleanup', {
  async prepare(context, { queueUrl, dlqUrl, bucket }) {
    const file = csvFile(context.quick ? 200_000 : 1_000_000);
    const data = readFileSync(file);
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
  async runWorker(config) {
    const s3 = new S3Client(config.clientConfig);
    const worker = createCleanupWorker({
      s3,
      worker: workerOptions(config),
    });
    const { seconds, results } = await drain(worker, 1);
    const summary = results[0] as { rowsOut: number };
    return { value: config.megabytes / seconds, extra: { rowsOut: summary.rowsOut } };
  },
  async runCeiling(config) {
    const s3 = new S3Client(config.clientConfig);
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
});
