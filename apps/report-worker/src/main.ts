// The report worker as a program: environment in, running worker out (the README lists the variables).
import { S3Client } from '@aws-sdk/client-s3';
import { awsClientSettings, readEnvironment } from '@tq/contracts';
import { createProducer } from '@tq/producer-sdk';
import { envNumber, envString, readWorkerEnvironment } from '@tq/worker';
import { pino } from 'pino';
import { createReportWorker } from './worker.js';

const logger = pino({ name: 'report-worker', level: process.env.LOG_LEVEL ?? 'info' });
try {
  const env = readEnvironment();
  const runtime = readWorkerEnvironment(process.env, {
    concurrency: 2,
    visibilityTimeoutSeconds: 120,
    handlerTimeoutMs: 10 * 60_000,
  });
  const settings = awsClientSettings(env);
  const s3 = new S3Client(settings);
  const producer = createProducer({ s3 });
  const worker = createReportWorker({
    s3,
    producer,
    maxRows: envNumber(process.env, 'REPORT_MAX_ROWS', { default: 100_000, min: 1, max: 10_000_000 }),
    render: {
      locale: envString(process.env, 'REPORT_LOCALE', {
        default: 'en-US',
        pattern: /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]+)*$/,
        describe: 'a BCP 47 locale such as en-GB',
      }),
      currency: envString(process.env, 'REPORT_CURRENCY', {
        default: 'USD',
        pattern: /^[A-Z]{3}$/,
        describe: 'an ISO 4217 code such as EUR',
      }),
    },
    worker: {
      ...runtime,
      region: env.region,
      prefix: env.prefix,
      ...(env.endpoint ? { endpoint: env.endpoint } : {}),
      logger,
    },
  });
  worker.once('stopped', () => {
    producer.close();
    s3.destroy();
  });
  await worker.start();
} catch (error) {
  logger.fatal({ err: error }, (error as Error).message);
  process.exitCode = 1;
}
