import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createQueue, createQueueWithDlq, queueCounts, waitForMessages } from '../src/index.js';
import { useLocalEndpoint } from '../src/vitest.js';

describe('queue helpers on the local endpoint', () => {
  const local = useLocalEndpoint();

  it('carries SQS messages and waits for them without sleeping', async () => {
    const queue = await createQueue(local.sqs);
    await local.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'one' }));
    await local.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'two', DelaySeconds: 1 }));
    expect(await queueCounts(local.sqs, queue.url)).toEqual({ visible: 1, inFlight: 0, delayed: 1 });
    const messages = await waitForMessages(local.sqs, queue.url, 2);
    expect(messages.map((message) => message.Body).sort()).toEqual(['one', 'two']);
    expect(await queueCounts(local.sqs, queue.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('times out with a count when messages do not come', async () => {
    const queue = await createQueue(local.sqs);
    await expect(waitForMessages(local.sqs, queue.url, 1, { timeoutMs: 1000 })).rejects.toThrow(/got 0/);
  });

  it('fans SNS out to subscribed queues and links DLQs', async () => {
    const sns = new SNSClient(local.endpoint.clientConfig);
    const { queue, dlq } = await createQueueWithDlq(local.sqs, { maxReceiveCount: 2 });
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
    const [message] = await waitForMessages(local.sqs, queue.url, 1);
    expect(message?.Body).toBe('{"hello":1}');
  });
});
