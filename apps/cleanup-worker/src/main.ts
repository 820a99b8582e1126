// The cleanup worker as a program: environment in, running worker out (the README lists the variables).
import { S3Client } from '@aws-sdk/client-s3';
import { awsClientSettings, readEnvironment } from '@tq/contracts';
import { envNumber, readWorkerEnvironment } from '@tq/worker';
import { pino } from 'pino';
import { createCleanupWorker } from './worker.js';

const logger = pino({ name: 'cleanup-worker', level: process.env.LOG_LEVEL ?? 'info' });
try {
  const env = readEnvironment();
  const runtime = readWorkerEnvironment(process.env, {
    concurrency: 2,
    visibilityTimeoutSeconds: 300,
    handlerTimeoutMs: 60 * 60_000,
  });
  const s3 = new S3Client(awsClientSettings(env));
  const worker = createCleanupWorker({
    s3,
    partSize: envNumber(process.env, 'CLEANUP_PART_SIZE', {
      default: 8 * 1024 * 1024,
      min: 5 * 1024 * 1024,
      max: 512 * 1024 * 1024,
    }),
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
