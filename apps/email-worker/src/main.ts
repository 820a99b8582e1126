// The email worker as a program: environment in, running worker out (the README lists the variables).
import { S3Client } from '@aws-sdk/client-s3';
import { awsClientSettings, readEnvironment } from '@tq/contracts';
import { readWorkerEnvironment } from '@tq/worker';
import { pino } from 'pino';
import { readEmailConfig } from './config.js';
import { createEmailWorker } from './worker.js';

const logger = pino({ name: 'email-worker', level: process.env.LOG_LEVEL ?? 'info' });
try {
  const env = readEnvironment();
  const config = readEmailConfig();
  const runtime = readWorkerEnvironment(process.env, { concurrency: 10, visibilityTimeoutSeconds: 60 });
  const settings = awsClientSettings(env);
  const s3 = new S3Client(settings);
  const worker = createEmailWorker({
    s3,
    smtp: config.smtpUrl,
    from: config.from,
    messageIdDomain: config.messageIdDomain,
    poolSize: config.poolSize,
    ratePerSecond: config.ratePerSecond,
    maxAttachmentBytes: config.maxAttachmentBytes,
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
