import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createProducer } from '@tq/producer-sdk';
import type { AwsClientConfig } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { createWorker } from '@tq/worker';
import { pino } from 'pino';
import { freshName, percentile, type Scenario } from '../lib.js';

interface Config {
  clientConfig: AwsClientConfig;
  prefix: string;
  queueUrl: string;
  dlqUrl: string;
  rate: number;
  seconds: number;
}

/**
 * End-to-end latency at a steady 200 tasks/s: from `send` (the envelope's createdAt) to the
 * handler starting, through the SNS topic's fan-out to the task queue, or straight to the queue.
 */
export const e2e: Scenario<Config> = {
  name: 'e2e-latency',
  title: 'send → handler start at a steady 200 tasks/s',
  unit: 'ms p50',
  lowerIsBetter: true,
  contenders: ['tq via SNS topic', 'tq direct to queue'],
  reference: 'tq direct to queue',
  referenceNote: 'the same worker fed straight through SQS: what the SNS hop adds',
  rounds: (context) => (context.quick ? 1 : 2),
  async prepare(context) {
    const prefix = freshName('e2e').slice(0, 40);
    const clients = {
      sqs: new SQSClient(context.clientConfig),
      sns: new SNSClient(context.clientConfig),
      s3: new S3Client(context.clientConfig),
    };
    await createProvisioner({ ...clients, topology: defineTopology({ prefix, bucket: false }) }).apply();
    const queueUrl = (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-send_email` })))
      .QueueUrl as string;
    const dlqUrl = (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-send_email-dlq` })))
      .QueueUrl as string;
    for (const client of Object.values(clients)) client.destroy();
    return { clientConfig: context.clientConfig, prefix, queueUrl, dlqUrl, rate: 200, seconds: context.quick ? 5 : 15 };
  },
  async run(contender, config) {
    const sqs = new SQSClient(config.clientConfig);
    const sns = new SNSClient(config.clientConfig);
    const latencies: number[] = [];
    const total = config.rate * config.seconds;
    const worker = createWorker({
      task: 'send_email',
      sqs,
      queueUrl: config.queueUrl,
      deadLetterQueueUrl: config.dlqUrl,
      concurrency: 50,
      logger: pino({ level: 'silent' }),
      handleSignals: false,
      handler: (_payload, context) => {
        latencies.push(Date.now() - Date.parse(context.envelope.createdAt));
      },
    });
    const done = new Promise<void>((resolve) => {
      let count = 0;
      worker.on('succeeded', () => {
        count += 1;
        if (count === total) resolve();
      });
    });
    await worker.start();
    const producer = createProducer({ sqs, sns, prefix: config.prefix });
    const route = contender === 'tq via SNS topic' ? 'topic' : 'queue';
    const started = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i += 1) {
      // Paced by the clock, not by the previous send: a steady arrival rate.
      const due = started + (i * 1000) / config.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      sends.push(producer.send('send_email', { to: ['e2e@example.com'], subject: `e2e ${i}`, text: 'x' }, { route }));
    }
    await Promise.all(sends);
    await done;
    await worker.stop();
    await producer.close();
    sqs.destroy();
    sns.destroy();
    const sorted = latencies.sort((a, b) => a - b);
    return { value: percentile(sorted, 50), p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  },
};
