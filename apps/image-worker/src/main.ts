// The image worker as a program: environment in, running worker out (the README lists the variables).
import { availableParallelism } from 'node:os';
import { S3Client } from '@aws-sdk/client-s3';
import { awsClientSettings, readEnvironment } from '@tq/contracts';
import { envNumber, readWorkerEnvironment } from '@tq/worker';
import { pino } from 'pino';
import { createImageWorker } from './worker.js';

const logger = pino({ name: 'image-worker', level: process.env.LOG_LEVEL ?? 'info' });
try {
  const env = readEnvironment();
  const runtime = readWorkerEnvironment(process.env, {
    concurrency: availableParallelism(),
    visibilityTimeoutSeconds: 120,
    handlerTimeoutMs: 5 * 60_000,
  });
  const s3 = new S3Client(awsClientSettings(env));
  const worker = createImageWorker({
    s3,
    maxBytes: envNumber(process.env, 'IMAGE_MAX_BYTES', { default: 50 * 1024 * 1024, min: 1, max: 2 ** 31 }),
    maxPixels: envNumber(process.env, 'IMAGE_MAX_PIXELS', { default: 100_000_000, min: 1, max: 2 ** 32 }),
    worker: {
      ...runtime,
      region: env.region,
      prefix: env.prefix,
      ...(env.endpoint ? { endpoint: env.endpoint } : {}),
      logger,
    },
  });
  worker.once('stopped', () => s3.destroy());
  await worker.start();
} catch (error) {
  logger.fatal({ err: error }, (error as Error).message);
  process.exitCode = 1;
}
