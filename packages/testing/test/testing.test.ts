import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createQueue,
  createQueueWithDlq,
  type LocalEndpoint,
  queueCounts,
  startLocalEndpoint,
  waitForMessages,
} from '../src/index.js';

describe('queue helpers on the local endpoint', () => {
  let endpoint: LocalEndpoint;
  let sqs: SQSClient;
  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    sqs = new SQSClient(endpoint.clientConfig);
  });
  afterAll(() => endpoint.stop());

  it('carries SQS messages and waits for them without sleeping', async () => {
    const queue = await createQueue(sqs);
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'one' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'two', DelaySeconds: 1 }));
    expect(await queueCounts(sqs, queue.url)).toEqual({ visible: 1, inFlight: 0, delayed: 1 });
    const messages = await waitForMessages(sqs, queue.url, 2);
    expect(messages.map((message) => message.Body).sort()).toEqual(['one', 'two']);
    expect(await queueCounts(sqs, queue.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('times out with a count when messages do not come', async () => {
    const queue = await createQueue(sqs);
    await expect(waitForMessages(sqs, queue.url, 1, { timeoutMs: 1000 })).rejects.toThrow(/got 0/);
  });

  it('fans SNS out to subscribed queues and links DLQs', async () => {
    const sns = new SNSClient(endpoint.clientConfig);
    const { queue, dlq } = await createQueueWithDlq(sqs, { maxReceiveCount: 2 });
    expect(dlq.name).toBe(`${queue.name}-dlq`);
    const topic = await sns.send(new CreateTopicCommand({ Name: `${queue.name}-topic` }));
    await sns.send(
      new SubscribeCommand({
        TopicArn: topic.TopicArn,
        Protocol: 'sqs',
        Endpoint: queue.arn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    await sns.send(new PublishCommand({ TopicArn: topic.TopicArn, Message: '{"hello":1}' }));
    const [message] = await waitForMessages(sqs, queue.url, 1);
    expect(message?.Body).toBe('{"hello":1}');
  });
});
