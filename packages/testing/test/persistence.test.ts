import { existsSync, watch } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { SAVE_MAX_WAIT_MS } from '@tq/local';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createQueue,
  createQueueWithDlq,
  queueCounts,
  startLocalEndpoint,
  waitForMessages,
  waitUntil,
} from '../src/index.js';

describe('local endpoint with a data folder', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const dataDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tq-state-'));
    dirs.push(dir);
    return dir;
  };

  it('keeps queues, messages, topics, subscriptions and objects across a restart on another port', async () => {
    const dir = await dataDir();
    const first = await startLocalEndpoint({ dataDir: dir });
    expect(first.restored).toBeUndefined();
    let sqs = new SQSClient(first.clientConfig);
    let s3 = new S3Client(first.clientConfig);
    const sns = new SNSClient(first.clientConfig);
    const { queue } = await createQueueWithDlq(sqs, { name: 'jobs', maxReceiveCount: 3 });
    const queueUrl = queue.url;
    const fifoUrl = (await createQueue(sqs, { name: 'ordered.fifo', attributes: { FifoQueue: 'true' } })).url;
    const sent: string[] = [];
    for (const body of ['one', 'two', 'three']) {
      const out = await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: body,
          MessageAttributes: { task: { DataType: 'String', StringValue: 'send_email' } },
        }),
      );
      sent.push(out.MessageId as string);
    }
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'later', DelaySeconds: 900 }));
    for (const body of ['a', 'b', 'c']) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: fifoUrl,
          MessageBody: body,
          MessageGroupId: 'g',
          MessageDeduplicationId: body,
        }),
      );
    }
    // One message in flight when the endpoint stops: it must come back, with its receive count.
    const inFlight = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 600 }),
    );
    expect(inFlight.Messages).toHaveLength(1);

    const topic = (await sns.send(new CreateTopicCommand({ Name: 'events' }))).TopicArn as string;
    const arn = queue.arn;
    await sns.send(
      new SubscribeCommand({
        TopicArn: topic,
        Protocol: 'sqs',
        Endpoint: arn,
        Attributes: { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify({ task: ['send_email'] }) },
      }),
    );
    await s3.send(new CreateBucketCommand({ Bucket: 'files' }));
    await s3.send(
      new PutObjectCommand({ Bucket: 'files', Key: 'a/report.pdf', Body: 'pdf bytes', Metadata: { 'tq-pages': '3' } }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'files', Key: 'a/old.txt', Body: 'old' }));
    await s3.send(new PutObjectCommand({ Bucket: 'files', Key: 'a/changed.txt', Body: 'before' }));
    await s3.send(new PutObjectCommand({ Bucket: 'files', Key: 'a/changed.txt', Body: 'after' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'files', Key: 'a/old.txt' }));
    sqs.destroy();
    s3.destroy();
    sns.destroy();
    await first.stop();

    const second = await startLocalEndpoint({ dataDir: dir });
    try {
      expect(second.port).not.toBe(first.port);
      expect(second.restored).toEqual({ queues: 3, messages: 7, objects: 2 });
      sqs = new SQSClient(second.clientConfig);
      s3 = new S3Client(second.clientConfig);
      const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: 'jobs' }))).QueueUrl as string;
      expect(url).toContain(`:${second.port}/`);
      expect(await queueCounts(sqs, url)).toEqual({ visible: 3, inFlight: 0, delayed: 1 });
      const policy = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }),
      );
      expect(JSON.parse(policy.Attributes?.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: 3 });

      const messages = await waitForMessages(sqs, url, 3);
      expect(messages.map((m) => m.MessageId).sort()).toEqual([...sent].sort());
      const again = messages.find((m) => m.MessageId === inFlight.Messages?.[0]?.MessageId);
      expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');

      const fifo = (await sqs.send(new GetQueueUrlCommand({ QueueName: 'ordered.fifo' }))).QueueUrl as string;
      const ordered: string[] = [];
      while (ordered.length < 3) {
        const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: fifo, MaxNumberOfMessages: 10 }));
        for (const message of out.Messages ?? []) {
          ordered.push(message.Body as string);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: fifo, ReceiptHandle: message.ReceiptHandle }));
        }
      }
      expect(ordered).toEqual(['a', 'b', 'c']);

      // The subscription and its filter survived: a matching publish reaches the queue.
      const snsAgain = new SNSClient(second.clientConfig);
      await snsAgain.send(
        new PublishCommand({
          TopicArn: topic,
          Message: 'published after restart',
          MessageAttributes: { task: { DataType: 'String', StringValue: 'send_email' } },
        }),
      );
      const published = await waitForMessages(sqs, url, 1);
      expect(published[0]?.Body).toBe('published after restart');
      snsAgain.destroy();

      const pdf = await s3.send(new GetObjectCommand({ Bucket: 'files', Key: 'a/report.pdf' }));
      expect(await pdf.Body?.transformToString()).toBe('pdf bytes');
      expect(pdf.Metadata).toEqual({ 'tq-pages': '3' });
      const changed = await s3.send(new GetObjectCommand({ Bucket: 'files', Key: 'a/changed.txt' }));
      expect(await changed.Body?.transformToString()).toBe('after');
      await expect(s3.send(new GetObjectCommand({ Bucket: 'files', Key: 'a/old.txt' }))).rejects.toThrow();
      // Bodies of deleted and overwritten objects are gone from the folder.
      expect(await readdir(join(dir, 'objects'))).toHaveLength(2);
    } finally {
      sqs.destroy();
      s3.destroy();
      await second.stop();
    }
  });

  it('serves DynamoDB on the same port, its tables kept in the data folder', async () => {
    const dir = await dataDir();
    const table = {
      TableName: 'kept-table',
      BillingMode: 'PAY_PER_REQUEST' as const,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' as const }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' as const }],
    };
    const first = await startLocalEndpoint({ dataDir: dir });
    const before = new DynamoDBClient(first.clientConfig);
    await before.send(new CreateTableCommand(table));
    // As on DynamoDB, a new table takes writes once ACTIVE (dynalite flips it asynchronously).
    await waitUntilTableExists({ client: before, maxWaitTime: 120, minDelay: 1 }, { TableName: 'kept-table' });
    await before.send(new PutItemCommand({ TableName: 'kept-table', Item: { id: { S: 'a' }, n: { N: '7' } } }));
    before.destroy();
    await first.stop();
    const second = await startLocalEndpoint({ dataDir: dir });
    const after = new DynamoDBClient(second.clientConfig);
    try {
      const item = await after.send(new GetItemCommand({ TableName: 'kept-table', Key: { id: { S: 'a' } } }));
      expect(item.Item).toEqual({ id: { S: 'a' }, n: { N: '7' } });
    } finally {
      after.destroy();
      await second.stop();
    }
  });

  it('writes nothing into the data folder once stop() has resolved', async () => {
    const dir = await dataDir();
    const endpoint = await startLocalEndpoint({ dataDir: dir });
    const sqs = new SQSClient(endpoint.clientConfig);
    try {
      // A change whose debounced save is still pending when stop() is called.
      await createQueue(sqs, { name: 'pending-save' });
    } finally {
      sqs.destroy();
    }
    await endpoint.stop();
    const writes: string[] = [];
    const watchers = [watch(dir, (_event, name) => writes.push(String(name)))];
    if (existsSync(join(dir, 'objects'))) {
      watchers.push(watch(join(dir, 'objects'), (_event, name) => writes.push(`objects/${name}`)));
    }
    try {
      // A save left behind would fire within SAVE_MAX_WAIT_MS; wait well past it.
      await new Promise((resolve) => setTimeout(resolve, SAVE_MAX_WAIT_MS * 3));
    } finally {
      for (const watcher of watchers) watcher.close();
    }
    expect(writes).toEqual([]);
    expect(
      JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).queues.map((q: { name: string }) => q.name),
    ).toEqual(['pending-save']);
  });

  it('saves shortly after each change, so a killed endpoint keeps what it had acknowledged', async () => {
    const dir = await dataDir();
    const endpoint = await startLocalEndpoint({ dataDir: dir });
    const sqs = new SQSClient(endpoint.clientConfig);
    try {
      const url = (await createQueue(sqs, { name: 'kept' })).url;
      const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'survives' }));
      // No stop(): the snapshot on disk must get there by itself.
      await waitUntil(
        async () =>
          existsSync(join(dir, 'state.json')) &&
          (await readFile(join(dir, 'state.json'), 'utf8')).includes(MessageId as string),
        'the message in state.json',
      );
    } finally {
      sqs.destroy();
    }
    // A copy of the folder as it is now stands for the process having been killed here.
    const copy = await dataDir();
    await writeFile(join(copy, 'state.json'), await readFile(join(dir, 'state.json')));
    await endpoint.stop();
    const restarted = await startLocalEndpoint({ dataDir: copy });
    try {
      expect(restarted.restored?.messages).toBe(1);
    } finally {
      await restarted.stop();
    }
  });

  it('refuses a damaged state file with the file named, instead of starting empty', async () => {
    const dir = await dataDir();
    await writeFile(join(dir, 'state.json'), '{"format": 1, "fauxq');
    await expect(startLocalEndpoint({ dataDir: dir })).rejects.toThrow(`${join(dir, 'state.json')} cannot be read`);
  });
});
