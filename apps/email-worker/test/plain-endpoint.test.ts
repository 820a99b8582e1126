import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createTask, queueName } from '@tq/contracts';
import {
  localClientConfig,
  queueCounts,
  type SmtpSink,
  type SpawnedProcess,
  spawnTs,
  startSmtpSink,
  waitForExit,
  waitForOutput,
} from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { buildApp } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('email worker on an endpoint without DynamoDB (plain fauxqs, the real process)', () => {
  let app: ReturnType<typeof buildApp>;
  let endpoint: string;
  let smtp: SmtpSink;
  let worker: SpawnedProcess | undefined;
  beforeAll(async () => {
    app = buildApp({ logger: false });
    endpoint = `http://127.0.0.1:${new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port}`;
    smtp = await startSmtpSink();
  });
  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await smtp?.stop();
    await app?.close();
  });

  it('says once that status and idempotency are off, then delivers every task', async () => {
    const prefix = `plain${Date.now().toString(36)}`;
    const config = localClientConfig(endpoint);
    const sqs = new SQSClient(config);
    const sns = new SNSClient(config);
    const s3 = new S3Client(config);
    try {
      await createProvisioner({ sqs, sns, s3, topology: defineTopology({ prefix, bucket: false }) }).apply();
      const queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: queueName(prefix, 'send_email') })))
        .QueueUrl as string;
      // Status on and idempotency on, as the email worker has them by default.
      worker = spawnTs(main, [], {
        TQ_ENDPOINT: endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        TQ_PREFIX: prefix,
        TQ_HTTP_PORT: 'off',
        SMTP_URL: smtp.url,
        EMAIL_FROM: 'Acme <no-reply@acme.example>',
      });
      await waitForOutput(worker, /"msg":"worker started"/);
      const envelopes = [1, 2, 3].map((n) =>
        createTask('send_email', { to: ['ada@example.com'], subject: `Plain ${n}`, text: 'hi' }),
      );
      for (const envelope of envelopes) {
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(envelope) }));
      }
      const deadline = Date.now() + 120_000;
      for (;;) {
        const counts = await queueCounts(sqs, queueUrl);
        const delivered = envelopes.every((envelope) =>
          smtp.messages.some((mail) => mail.parsed.messageId === `<${envelope.id}@acme.example>`),
        );
        if (delivered && counts.visible + counts.inFlight === 0) break;
        if (Date.now() > deadline) throw new Error(`tasks not delivered:\n${worker.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      worker.kill('SIGTERM');
      expect((await waitForExit(worker)).code).toBe(0);
      const output = worker.output();
      const said = output.split('\n').filter((line) => line.includes('serves no DynamoDB'));
      expect(said).toHaveLength(1);
      expect(said[0]).toContain(
        `${endpoint} serves no DynamoDB: task status and idempotency records are off (point TQ_DYNAMODB_ENDPOINT at an endpoint that serves it to turn them on)`,
      );
      // No failing status or idempotency calls after that line.
      expect(output).not.toMatch(/status store unreachable|idempotency store unreachable|InvalidAction/);
    } finally {
      sqs.destroy();
      sns.destroy();
      s3.destroy();
    }
  });
});
