import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parseTask, registry } from '@tq/contracts';
import { type LocalEndpoint, queueCounts, startLocalEndpoint, uniqueName, waitForMessages } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducer, isProducerError, PayloadTooLargeError, TaskValidationError } from '../src/index.js';

const TASKS = registry.names();
const email = { to: ['john@example.com'], subject: 'Welcome to our app', text: 'Thank you for signing up!' };

describe('producer against the local endpoint', () => {
  let endpoint: LocalEndpoint;
  let sqs: SQSClient;
  const prefix = uniqueName('prod');
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    sqs = new SQSClient(endpoint.clientConfig);
    const topology = defineTopology({ prefix, bucket: false });
    await createProvisioner({
      sqs,
      sns: new SNSClient(endpoint.clientConfig),
      s3: new S3Client(endpoint.clientConfig),
      topology,
    }).apply();
    for (const task of TASKS) {
      urls[task] = (await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-${task}` }))).QueueUrl as string;
    }
  });
  afterAll(() => endpoint.stop());

  const producer = () => createProducer({ endpoint: endpoint.endpoint, prefix });
  const allCounts = async () => Promise.all(TASKS.map(async (task) => queueCounts(sqs, urls[task] as string)));
  const empty = { visible: 0, inFlight: 0, delayed: 0 };

  it('publishes through SNS and reaches exactly the queue subscribed to the task', async () => {
    const result = await producer().send('send_email', email, { idempotencyKey: 'welcome-1' });
    expect(result.route).toBe('topic');
    const [message] = await waitForMessages(sqs, urls.send_email as string, 1);
    expect(message?.MessageAttributes?.task?.StringValue).toBe('send_email');
    expect(message?.MessageAttributes?.version?.StringValue).toBe('1');
    const parsed = parseTask(message?.Body);
    expect(parsed.ok && parsed.envelope).toMatchObject({
      id: result.id,
      task: 'send_email',
      idempotencyKey: 'welcome-1',
      payload: email,
    });
    expect(await allCounts()).toEqual([empty, empty, empty, empty]);
  });

  it('publishes to TQ_TOPIC_ARN without listing topics (a deployment grants no sns:ListTopics)', async () => {
    const sns = new SNSClient(endpoint.clientConfig);
    const calls: string[] = [];
    sns.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(context.commandName as string);
        return next(args);
      },
      { step: 'initialize' },
    );
    const previous = process.env.TQ_TOPIC_ARN;
    process.env.TQ_TOPIC_ARN = `arn:aws:sns:${endpoint.region}:000000000000:${prefix}-tasks`;
    try {
      const result = await createProducer({ endpoint: endpoint.endpoint, sns }).send('send_email', email);
      expect(result.route).toBe('topic');
      expect(calls).toEqual(['PublishCommand']);
      const [message] = await waitForMessages(sqs, urls.send_email as string, 1);
      expect(JSON.parse(message?.Body as string).id).toBe(result.id);
    } finally {
      if (previous === undefined) delete process.env.TQ_TOPIC_ARN;
      else process.env.TQ_TOPIC_ARN = previous;
      sns.destroy();
    }
  });

  it('sends straight to the task queue on request', async () => {
    const result = await producer().send('send_email', email, { route: 'queue' });
    expect(result.route).toBe('queue');
    const [message] = await waitForMessages(sqs, urls.send_email as string, 1);
    expect(message?.MessageId).toBe(result.messageId);
    expect(JSON.parse(message?.Body as string).id).toBe(result.id);
  });

  it('honours a per-message delay: not visible before it, delivered after', async () => {
    const result = await producer().send('send_email', email, { delaySeconds: 2 });
    expect(result.route).toBe('queue');
    expect(await queueCounts(sqs, urls.send_email as string)).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
    const early = await sqs.send(new ReceiveMessageCommand({ QueueUrl: urls.send_email, WaitTimeSeconds: 1 }));
    expect(early.Messages ?? []).toEqual([]);
    const [message] = await waitForMessages(sqs, urls.send_email as string, 1, { timeoutMs: 120_000 });
    expect(JSON.parse(message?.Body as string).id).toBe(result.id);
  });

  it('sends nothing for an invalid payload and throws every violation', async () => {
    const error = await producer()
      .send('send_email', { to: ['not-an-address'], subject: 'a\r\nBcc: x@example.com' } as never)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TaskValidationError);
    expect((error as TaskValidationError).violations.map((v) => v.path)).toEqual([
      '/payload/to/0',
      '/payload/subject',
      '/payload',
    ]);
    expect(await allCounts()).toEqual([empty, empty, empty, empty]);
  });

  it('rejects out-of-range options before any call', async () => {
    const unreachable = createProducer({ endpoint: 'http://127.0.0.1:1', prefix });
    for (const options of [
      { delaySeconds: 901 },
      { delaySeconds: 1.5 },
      { route: 'topic' as const, delaySeconds: 5 },
    ]) {
      await expect(unreachable.send('send_email', email, options)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    }
  });

  it('refuses payloads over the SNS limit with PayloadTooLargeError, and accepts them on SQS', async () => {
    const big = { ...email, text: 'x'.repeat(300_000) };
    const error = await producer()
      .send('send_email', big)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', limit: 262_144 });
    expect(await allCounts()).toEqual([empty, empty, empty, empty]);
    await producer().send('send_email', big, { route: 'queue' });
    await waitForMessages(sqs, urls.send_email as string, 1);
  });

  it('says what to do when the topic or queue is missing', async () => {
    const missing = createProducer({ endpoint: endpoint.endpoint, prefix: 'nothing-here' });
    await expect(missing.send('send_email', email)).rejects.toMatchObject({
      code: 'TOPIC_NOT_FOUND',
      message: expect.stringContaining('run `tq provision`'),
    });
    const error = await missing.send('send_email', email, { route: 'queue' }).catch((caught: unknown) => caught);
    expect(isProducerError(error) && error.code).toBe('QUEUE_NOT_FOUND');
    // A message group needs the FIFO queue, which exists only for the tasks TQ_FIFO_TASKS lists.
    await expect(producer().send('send_email', email, { groupId: 'g1' })).rejects.toMatchObject({
      code: 'QUEUE_NOT_FOUND',
      message: expect.stringContaining(`queue ${prefix}-send_email.fifo does not exist`),
    });
    await expect(producer().send('send_email', email, { groupId: 'g1' })).rejects.toThrow(/TQ_FIFO_TASKS/);
  });

  it('refuses a FIFO task without a message group, before any call: the topic cannot deliver it', async () => {
    // Port 9 answers nothing: any call would fail as an AWS error, not as INVALID_OPTIONS.
    const fifo = createProducer({ endpoint: 'http://127.0.0.1:9', prefix, fifoTasks: ['send_email'] });
    await expect(fifo.send('send_email', email)).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringContaining("send_email's queue is FIFO (TQ_FIFO_TASKS or its definition): give a groupId"),
    });
  });

  it('makes no call until the first send, and reports an unreachable endpoint as a retryable AWS error', async () => {
    const unreachable = createProducer({ endpoint: 'http://127.0.0.1:1', prefix });
    const error = await unreachable.send('send_email', email).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'AWS_ERROR', retryable: true });
  });
});
