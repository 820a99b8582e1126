import { S3Client } from '@aws-sdk/client-s3';
import { createEmailWorker } from '@tq/email-worker';
import nodemailer from 'nodemailer';
import { pool } from '../lib.js';
import { appScenario, drain, enqueue, type QueueConfig, workerOptions } from './app-common.js';

interface EmailConfig extends QueueConfig {
  smtpUrl: string;
}

const mail = (i: number) => ({
  to: [`customer${i}@example.com`],
  subject: `Your order ${i} has shipped`,
  text: `Hello,\n\nYour order ${i} is on its way.\n\n— The shop`,
  html: `<p>Hello,</p><p>Your order <b>${i}</b> is on its way.</p><p>— The shop</p>`,
});

export const email = appScenario<EmailConfig>('email', {
  async prepare(context, { queueUrl, dlqUrl }) {
    const count = context.quick ? 300 : 2000;
    await enqueue(
      context.clientConfig,
      queueUrl,
      'send_email',
      Array.from({ length: count }, (_, i) => mail(i)),
    );
    return { clientConfig: context.clientConfig, queueUrl, dlqUrl, bucket: '', count, smtpUrl: context.smtpUrl };
  },
  async runWorker(config) {
    const worker = createEmailWorker({
      s3: new S3Client(config.clientConfig),
      smtp: config.smtpUrl,
      from: 'Shop <shop@example.com>',
      poolSize: 5,
      worker: { ...workerOptions(config), concurrency: 10 },
    });
    const { seconds } = await drain(worker, config.count);
    return { value: config.count / seconds };
  },
  async runCeiling(config) {
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
});
