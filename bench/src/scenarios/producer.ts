import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type BatchItem, createProducer } from '@tq/producer-sdk';
import { Producer as SqsProducer } from 'sqs-producer';
import { createQueues, deleteQueues, pool, remaining, type Scenario } from '../lib.js';

interface Config {
  clientConfig: import('@tq/testing').AwsClientConfig;
  queueUrl: string;
  dlqUrl: string;
  count: number;
}

const CONCURRENCY = 8;
/** The routing attributes tq puts on every task; the other contenders send them too, for equal work. */
const ATTRIBUTES = {
  task: { DataType: 'String', StringValue: 'send_email' },
  version: { DataType: 'Number', StringValue: '1' },
};
/** A task as a hand-rolled producer would build it: the envelope, no validation. */
const plainBody = (i: number) =>
  JSON.stringify({
    id: crypto.randomUUID(),
    task: 'send_email',
    version: 1,
    createdAt: new Date().toISOString(),
    payload: payload(i),
  });
const payload = (i: number) => ({
  to: [`user${i}@example.com`],
  subject: `Your receipt #${i}`,
  text: 'Thank you for your order. Your receipt is attached as a PDF; keep it for your records.',
});

/**
 * Producer throughput: 20,000 tasks to one SQS queue, 8 batch calls in flight for every contender,
 * each message with the same body shape and `task`/`version` attributes. Building the bodies is
 * inside the timer for everyone; only tq validates them.
 */
export const producer: Scenario<Config> = {
  name: 'producer',
  title: 'send 20,000 tasks to SQS (batches of 10, 8 calls in flight)',
  unit: 'tasks/s',
  contenders: ['tq sendBatch', 'sqs-producer', 'raw SendMessageBatch'],
  reference: 'raw SendMessageBatch',
  referenceNote: 'a bare SendMessageBatch loop with the same concurrency: the ceiling',
  // Runs are short (about 3 s): more of them for a steadier median.
  rounds: (context) => (context.quick ? 1 : 5),
  warmUp: true,
  async prepare(context) {
    const { queueUrl, dlqUrl } = await createQueues(context.clientConfig, 'producer');
    return { clientConfig: context.clientConfig, queueUrl, dlqUrl, count: context.quick ? 5000 : 20_000 };
  },
  async run(contender, config) {
    const sqs = new SQSClient(config.clientConfig);
    const indexes = Array.from({ length: config.count }, (_, i) => i);
    let started = 0;
    if (contender === 'tq sendBatch') {
      // As services use it: the producer makes its own client from the endpoint setting.
      const tq = createProducer({
        endpoint: config.clientConfig.endpoint,
        region: config.clientConfig.region,
        queueUrls: { send_email: config.queueUrl },
        batchConcurrency: CONCURRENCY,
      });
      const items: BatchItem[] = indexes.map((i) => ({
        task: 'send_email',
        payload: payload(i),
        options: { route: 'queue' },
      }));
      started = performance.now();
      const results = await tq.sendBatch(items);
      if (results.some((r) => !r.ok)) throw new Error('tq: some tasks were not sent');
      // Closed after the clock stops, like the shared client below.
      await tq.close();
    } else if (contender === 'sqs-producer') {
      const producer = SqsProducer.create({ queueUrl: config.queueUrl, sqs, batchSize: 10 });
      started = performance.now();
      const messages = indexes.map((i) => ({ id: String(i), body: plainBody(i), messageAttributes: ATTRIBUTES }));
      // sqs-producer sends one batch at a time per call; 8 calls at once give it the same concurrency.
      const slices = Array.from({ length: CONCURRENCY }, (_, k) => messages.filter((_, i) => i % CONCURRENCY === k));
      await Promise.all(slices.map((slice) => producer.send(slice)));
    } else {
      started = performance.now();
      const bodies = indexes.map(plainBody);
      const batches: string[][] = [];
      for (let i = 0; i < bodies.length; i += 10) batches.push(bodies.slice(i, i + 10));
      await pool(batches, CONCURRENCY, async (batch) => {
        const out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: config.queueUrl,
            Entries: batch.map((body, j) => ({ Id: String(j), MessageBody: body, MessageAttributes: ATTRIBUTES })),
          }),
        );
        if (out.Failed?.length) throw new Error('raw: failed entries');
      });
    }
    const seconds = (performance.now() - started) / 1000;
    sqs.destroy();
    return { value: config.count / seconds };
  },
  async verify(context, config) {
    const count = await remaining(context.clientConfig, config.queueUrl);
    if (count !== config.count) throw new Error(`producer: ${count} messages on the queue, expected ${config.count}`);
    await deleteQueues(context.clientConfig, config.queueUrl, config.dlqUrl);
  },
};
