import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LocalEndpoint,
  type SmtpSink,
  startEndpointProcess,
  startLocalEndpoint,
  startSmtpSink,
} from '../src/index.js';

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('local endpoint', () => {
  let endpoint: LocalEndpoint;
  let sqs: SQSClient;
  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    sqs = new SQSClient(endpoint.clientConfig);
  });
  afterAll(() => endpoint.stop());

  it('listens on a free loopback port', () => {
    expect(endpoint.port).toBeGreaterThan(0);
    expect(endpoint.endpoint).toBe(`http://127.0.0.1:${endpoint.port}`);
  });

  it('carries SQS messages', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'local-basic' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'one' }));
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
    expect(Messages?.map((message) => message.Body)).toEqual(['one']);
  });

  it('stores S3 objects', async () => {
    const s3 = new S3Client(endpoint.clientConfig);
    await s3.send(new CreateBucketCommand({ Bucket: 'testing-bucket' }));
    await s3.send(new PutObjectCommand({ Bucket: 'testing-bucket', Key: 'a/b.txt', Body: 'bytes' }));
    const object = await s3.send(new GetObjectCommand({ Bucket: 'testing-bucket', Key: 'a/b.txt' }));
    expect(await object.Body?.transformToString()).toBe('bytes');
  });

  it('counts the AWS requests it serves by service and action, as AWS bills them', async () => {
    const counted = await startLocalEndpoint();
    try {
      const config = counted.clientConfig;
      const [queues, topics, s3, dynamodb] = [
        new SQSClient(config),
        new SNSClient(config),
        new S3Client(config),
        new DynamoDBClient(config),
      ];
      const { QueueUrl } = await queues.send(new CreateQueueCommand({ QueueName: 'counted' }));
      const { TopicArn } = await topics.send(new CreateTopicCommand({ Name: 'counted' }));
      counted.requests.reset();
      await queues.send(new SendMessageCommand({ QueueUrl, MessageBody: 'one' }));
      await queues.send(new SendMessageCommand({ QueueUrl, MessageBody: 'two' }));
      await queues.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
      await topics.send(new PublishCommand({ TopicArn, Message: 'hi' }));
      await s3.send(new CreateBucketCommand({ Bucket: 'counted' }));
      await s3.send(new PutObjectCommand({ Bucket: 'counted', Key: 'k', Body: 'v' }));
      await (await s3.send(new GetObjectCommand({ Bucket: 'counted', Key: 'k' }))).Body?.transformToString();
      await dynamodb.send(new ListTablesCommand({}));
      expect(counted.requests.counts()).toEqual({
        'sqs:SendMessage': 2,
        'sqs:ReceiveMessage': 1,
        'sns:Publish': 1,
        's3:CreateBucket': 1,
        's3:PutObject': 1,
        's3:GetObject': 1,
        'dynamodb:ListTables': 1,
      });
      for (const client of [queues, topics, s3, dynamodb]) client.destroy();
    } finally {
      await counted.stop();
    }
  });

  it('stops and frees its port', async () => {
    const other = await startLocalEndpoint();
    expect(await canConnect(other.port, '127.0.0.1')).toBe(true);
    await other.stop();
    expect(await canConnect(other.port, '127.0.0.1')).toBe(false);
  });
});

describe('SMTP sink', () => {
  let sink: SmtpSink;
  let dir: string;
  const transport = () => nodemailer.createTransport({ url: sink.url } as never);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tq-sink-'));
    sink = await startSmtpSink({ dir });
  });
  afterAll(async () => {
    await sink.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('records what nodemailer sends, parsed and as an .eml file', async () => {
    await transport().sendMail({
      from: 'noreply@example.com',
      to: 'john@example.com',
      bcc: 'audit@example.com',
      subject: 'Hello',
      text: 'plain body',
      attachments: [{ filename: 'a.bin', content: Buffer.from([0, 1, 2, 255]) }],
    });
    const [mail] = await sink.waitFor(1, { where: (m) => m.parsed.subject === 'Hello' });
    expect(mail?.envelope).toEqual({ from: 'noreply@example.com', to: ['john@example.com', 'audit@example.com'] });
    expect(mail?.parsed.text?.trim()).toBe('plain body');
    expect(mail?.parsed.attachments[0]?.content).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await readFile(mail?.file as string)).toEqual(mail?.raw);
  });

  it('answers an injected 4xx, then accepts', async () => {
    sink.fail({ code: 451, message: 'try again later' });
    const send = () =>
      transport().sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'retry', text: 'x' });
    await expect(send()).rejects.toMatchObject({ responseCode: 451 });
    await send();
    expect(sink.messages.filter((m) => m.parsed.subject === 'retry')).toHaveLength(1);
  });

  it('answers an injected 5xx at RCPT', async () => {
    sink.fail({ code: 550, message: 'no such user', stage: 'rcpt' });
    await expect(
      transport().sendMail({ from: 'a@example.com', to: 'gone@example.com', subject: 'bounce', text: 'x' }),
    ).rejects.toMatchObject({ responseCode: 550 });
    expect(sink.messages.some((m) => m.parsed.subject === 'bounce')).toBe(false);
  });
});

describe('startEndpointProcess', () => {
  it('runs the endpoint in a child process on loopback and stops it', async () => {
    const endpoint = await startEndpointProcess();
    expect(endpoint.pid).not.toBe(process.pid);
    expect(endpoint.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const sqs = new SQSClient(endpoint.clientConfig);
    const created = await sqs.send(new CreateQueueCommand({ QueueName: 'in-a-child' }));
    expect(created.QueueUrl).toContain('in-a-child');
    sqs.destroy();
    await endpoint.stop();
    expect(() => process.kill(endpoint.pid, 0)).toThrow();
  });
});
