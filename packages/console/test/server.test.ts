import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { defineConfig, defineTask, readEnvironment, Type } from '@tq/contracts';
import { type LocalEndpoint, startLocalEndpoint, uniqueName } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsole } from '../src/index.js';

describe('console server: write actions need the token and are logged; read-only refuses them', () => {
  let endpoint: LocalEndpoint;
  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
  });
  afterAll(() => endpoint.stop());
  const env = () => readEnvironment({ TQ_ENDPOINT: endpoint.endpoint, TQ_PREFIX: uniqueName('srv') });
  /** A prefix of its own with its topic and queues (no bucket). */
  async function provisioned() {
    const environment = env();
    const sqs = new SQSClient(endpoint.clientConfig);
    await createProvisioner({
      sqs,
      sns: new SNSClient(endpoint.clientConfig),
      s3: new S3Client(endpoint.clientConfig),
      topology: defineTopology({ prefix: environment.prefix, bucket: false }),
    }).apply();
    return { environment, sqs };
  }

  it('refuses a write without the token (401), takes it with the token, and logs every write action', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const { environment, sqs } = await provisioned();
    sqs.destroy();
    const web = await startConsole({ env: environment, token: 'secret-token', logger });
    try {
      expect(web.readOnly).toBe(false);
      expect(web.link).toBe(`${web.url}#token=secret-token`);
      const post = (token?: string) =>
        fetch(`${web.url}api/tasks/send_email`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ payload: { to: ['a@example.com'], subject: 's', text: 't' }, send: true }),
        });
      expect((await post()).status).toBe(401);
      expect((await post('wrong-token-value')).status).toBe(401);
      // Validation alone needs no token: it changes nothing.
      const check = await fetch(`${web.url}api/tasks/send_email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload: { to: ['a@example.com'], subject: 's', text: 't' } }),
      });
      expect(await check.json()).toEqual({ valid: true });
      const sent = await post('secret-token');
      expect(sent.status).toBe(200);
      const { id } = (await sent.json()) as { id: string };
      expect(lines).toContainEqual(
        expect.objectContaining({ msg: 'console: write action', action: 'send', task: 'send_email', id }),
      );
      expect(lines.filter((line) => line.msg === 'console: write action refused (bad or missing token)')).toHaveLength(
        2,
      );
      // Security headers on every answer; the page's only inline script is allowed by its hash.
      const page = await fetch(web.url);
      expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    } finally {
      await web.close();
    }
  });

  it('read-only: every write action is refused (403) and the page says so', async () => {
    const web = await startConsole({ env: env(), readOnly: true, logger: pino({ level: 'silent' }) });
    try {
      expect(web.readOnly).toBe(true);
      expect(web.link).toBe(web.url);
      const meta = (await (await fetch(`${web.url}api/meta`)).json()) as { readOnly: boolean };
      expect(meta.readOnly).toBe(true);
      for (const path of ['api/dlq/send_email/redrive', 'api/dlq/send_email/delete']) {
        const response = await fetch(`${web.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer anything' },
          body: JSON.stringify({ code: 'INVALID_JSON' }),
        });
        expect(response.status).toBe(403);
      }
      const artifact = await fetch(`${web.url}api/artifacts?uri=${encodeURIComponent('s3://elsewhere/secret.txt')}`);
      expect(artifact.status).toBe(403);
    } finally {
      await web.close();
    }
  });

  it("a project's FIFO task: its queue is counted, and a redrive keeps each dead letter's message group", async () => {
    const environment = env();
    const shipOrder = defineTask({
      name: 'ship_order',
      description: 'Ships an order',
      versions: { 1: { schema: Type.Object({ order: Type.String() }) } },
      fifo: true,
    });
    const project = defineConfig({ tasks: [shipOrder], workers: { shipping: { task: 'ship_order', main: 's.ts' } } });
    const sqs = new SQSClient(endpoint.clientConfig);
    await createProvisioner({
      sqs,
      sns: new SNSClient(endpoint.clientConfig),
      s3: new S3Client(endpoint.clientConfig),
      topology: defineTopology({ registry: project.registry, prefix: environment.prefix, bucket: false }),
    }).apply();
    const url = async (name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
    const dlq = await url(`${environment.prefix}-ship_order-dlq.fifo`);
    const letter = (order: string) =>
      JSON.stringify({
        id: randomUUID(),
        task: 'ship_order',
        version: 1,
        createdAt: new Date().toISOString(),
        payload: { order },
      });
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: dlq,
        Entries: ['a', 'b'].map((order, index) => ({
          Id: String(index),
          MessageBody: letter(order),
          MessageGroupId: `customer-${order}`,
          MessageDeduplicationId: `dedup-${order}`,
          MessageAttributes: { 'tq-error-code': { DataType: 'String', StringValue: 'RETRIES_EXHAUSTED' } },
        })),
      }),
    );
    const web = await startConsole({
      env: environment,
      registry: project.registry,
      token: 'fifo-token',
      logger: pino({ level: 'silent' }),
    });
    try {
      const overview = (await (await fetch(`${web.url}api/overview`)).json()) as {
        queues: { task: string; queue?: { name: string }; dlq?: { name: string; visible: number } }[];
      };
      const row = overview.queues.find((entry) => entry.task === 'ship_order');
      expect(row?.queue?.name).toBe(`${environment.prefix}-ship_order.fifo`);
      expect(row?.dlq).toMatchObject({ name: `${environment.prefix}-ship_order-dlq.fifo`, visible: 2 });
      const redrive = await fetch(`${web.url}api/dlq/ship_order/redrive`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer fifo-token' },
        body: JSON.stringify({ code: 'RETRIES_EXHAUSTED' }),
      });
      expect(redrive.status, await redrive.clone().text()).toBe(200);
      expect(await redrive.json()).toMatchObject({ moved: 2 });
      const back = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: await url(`${environment.prefix}-ship_order.fifo`),
          MaxNumberOfMessages: 10,
          MessageSystemAttributeNames: ['MessageGroupId'],
          WaitTimeSeconds: 1,
        }),
      );
      expect((back.Messages ?? []).map((message) => message.Attributes?.MessageGroupId).sort()).toEqual([
        'customer-a',
        'customer-b',
      ]);
    } finally {
      await web.close();
      sqs.destroy();
    }
  });

  it('serves a big DLQ while it reads it: the first page after one receive, then all of it, counted by code', async () => {
    const { environment, sqs } = await provisioned();
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: `${environment.prefix}-send_email-dlq` }));
    const total = 2000;
    for (let i = 0; i < total; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: Array.from({ length: 10 }, (_, n) => ({
            Id: String(n),
            MessageBody: `{"broken": ${i + n}`,
            MessageAttributes: {
              'tq-error-code': {
                DataType: 'String',
                StringValue: (i + n) % 4 === 0 ? 'SCHEMA_VIOLATION' : 'INVALID_JSON',
              },
            },
          })),
        }),
      );
    }
    const web = await startConsole({ env: environment, readOnly: true, logger: pino({ level: 'silent' }) });
    try {
      type Page = {
        scanning: boolean;
        read: number;
        total: number;
        codes: { code: string; count: number }[];
        messages: unknown[];
      };
      const first = (await (await fetch(`${web.url}api/dlq/send_email?limit=50`)).json()) as Page;
      expect(first.scanning).toBe(true);
      expect(first.total).toBe(total);
      expect(first.read).toBeGreaterThan(0);
      expect(first.read).toBeLessThan(total);
      expect(first.messages.length).toBe(Math.min(50, first.read));
      let page = first;
      while (page.scanning) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        page = (await (await fetch(`${web.url}api/dlq/send_email?limit=50`)).json()) as Page;
      }
      expect(page.read).toBe(total);
      expect(page.codes).toEqual([
        { code: 'INVALID_JSON', count: 1500 },
        { code: 'SCHEMA_VIOLATION', count: 500 },
      ]);
      // Every message was made visible again after the scan: nothing is held by the console.
      const counts = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      expect(counts.Attributes).toMatchObject({
        ApproximateNumberOfMessages: String(total),
        ApproximateNumberOfMessagesNotVisible: '0',
      });
    } finally {
      await web.close();
      sqs.destroy();
    }
  });

  it('opens and downloads artifacts of the allow-list through the console, and nothing outside it', async () => {
    const environment = env();
    const s3 = new S3Client({ ...endpoint.clientConfig, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: environment.bucket }));
    const pdf = Buffer.from('%PDF-1.7 a report');
    await s3.send(
      new PutObjectCommand({
        Bucket: environment.bucket,
        Key: 'reports/q3.pdf',
        Body: pdf,
        ContentType: 'application/pdf',
      }),
    );
    const web = await startConsole({ env: environment, readOnly: true, logger: pino({ level: 'silent' }) });
    try {
      const uri = encodeURIComponent(`s3://${environment.bucket}/reports/q3.pdf`);
      const inline = await fetch(`${web.url}api/artifacts?uri=${uri}`);
      expect(inline.status).toBe(200);
      expect(inline.headers.get('content-type')).toBe('application/pdf');
      expect(inline.headers.get('content-disposition')).toBe('inline; filename="q3.pdf"');
      expect(inline.headers.get('content-security-policy')).toContain('sandbox');
      expect(Buffer.from(await inline.arrayBuffer()).equals(pdf)).toBe(true);
      const download = await fetch(`${web.url}api/artifacts?uri=${uri}&download=1`);
      expect(download.headers.get('content-disposition')).toBe('attachment; filename="q3.pdf"');
      await download.body?.cancel();
      const missing = await fetch(
        `${web.url}api/artifacts?uri=${encodeURIComponent(`s3://${environment.bucket}/nope.pdf`)}`,
      );
      expect(missing.status).toBe(404);
      const traversal = await fetch(
        `${web.url}api/artifacts?uri=${encodeURIComponent(`s3://${environment.bucket}/a/../b`)}`,
      );
      expect(traversal.status).toBe(403);
    } finally {
      await web.close();
      s3.destroy();
    }
  });
});
