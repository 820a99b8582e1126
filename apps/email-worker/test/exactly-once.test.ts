import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { createTask, queueName } from '@tq/contracts';
import { ensureIdempotencyTable, idempotencyTableName } from '@tq/status';
import {
  type LocalEndpoint,
  queueCounts,
  type SmtpSink,
  type SpawnedProcess,
  spawnTs,
  startHoldingProxy,
  startSmtpSink,
  waitForExit,
  waitForOutput,
  waitUntil,
} from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createProvisioner, defineTopology } from '@tq/topology';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** The same envelope as any SQS client would send it: the aws CLI. */
async function sendWithAwsCli(endpoint: LocalEndpoint, queueUrl: string, body: string): Promise<void> {
  await run(
    'aws',
    ['--endpoint-url', endpoint.endpoint, '--region', endpoint.region, 'sqs', 'send-message'].concat([
      '--queue-url',
      queueUrl,
      '--message-body',
      body,
      '--message-attributes',
      JSON.stringify({ task: { DataType: 'String', StringValue: 'send_email' } }),
    ]),
    { env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_PAGER: '' } },
  );
}

describe('email worker: one mail per task, however often SQS delivers it (the real process)', () => {
  const local = useLocalEndpoint();
  let smtp: SmtpSink;
  const children: SpawnedProcess[] = [];
  let count = 0;

  /**
   * A prefix of its own per test (topology + idempotency table): a stopped worker's aborted long
   * poll may still take a message at the endpoint, which would hide it from the next test.
   */
  async function provision(): Promise<{ prefix: string; queueUrl: string }> {
    count += 1;
    const prefix = `eo${count}x${Date.now().toString(36)}`;
    const { sqs, sns, s3 } = local;
    await createProvisioner({ sqs, sns, s3, topology: defineTopology({ prefix, bucket: false }) }).apply();
    const dynamodb = new DynamoDBClient(local.endpoint.clientConfig);
    await ensureIdempotencyTable(dynamodb, idempotencyTableName(prefix));
    dynamodb.destroy();
    const queueUrl = (await local.sqs.send(new GetQueueUrlCommand({ QueueName: queueName(prefix, 'send_email') })))
      .QueueUrl;
    return { prefix, queueUrl: queueUrl ?? '' };
  }

  beforeAll(async () => {
    smtp = await startSmtpSink();
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await smtp?.stop();
  });

  function startWorker(prefix: string, endpointUrl: string, env: Record<string, string> = {}): SpawnedProcess {
    const child = spawnTs(main, [], {
      TQ_ENDPOINT: endpointUrl,
      AWS_REGION: local.endpoint.region,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      TQ_PREFIX: prefix,
      TQ_HTTP_PORT: 'off',
      TQ_STATUS: 'off',
      SMTP_URL: smtp.url,
      EMAIL_FROM: 'Acme <no-reply@acme.example>',
      ...env,
    });
    children.push(child);
    return child;
  }

  const mailsFor = (id: string) => smtp.messages.filter((mail) => mail.parsed.messageId === `<${id}@acme.example>`);
  const drained = (queueUrl: string) => async () => {
    const counts = await queueCounts(local.sqs, queueUrl);
    return counts.visible + counts.inFlight + counts.delayed === 0;
  };

  it('the same envelope sent twice with the aws CLI: one mail; the second delivery is acknowledged unrun', async () => {
    const { prefix, queueUrl } = await provision();
    const worker = startWorker(prefix, local.endpoint.endpoint);
    await waitForOutput(worker, /"msg":"worker started"/);
    const envelope = createTask('send_email', { to: ['ada@example.com'], subject: 'Twice', text: 'once' });
    await sendWithAwsCli(local.endpoint, queueUrl, JSON.stringify(envelope));
    await sendWithAwsCli(local.endpoint, queueUrl, JSON.stringify(envelope));
    await waitUntil(
      async () => /already done \(idempotency record\)/.test(worker.output()) && (await drained(queueUrl)()),
      'both deliveries settled',
    );
    expect(mailsFor(envelope.id)).toHaveLength(1);
    worker.kill('SIGTERM');
    expect((await waitForExit(worker)).code).toBe(0);
  });

  async function killedBetweenSendAndDelete(env: Record<string, string>) {
    const { prefix, queueUrl } = await provision();
    const proxy = await startHoldingProxy(local.endpoint.endpoint);
    try {
      const envelope = createTask('send_email', { to: ['ada@example.com'], subject: 'Killed', text: 'once' });
      // Visibility 3 s: the message of the killed worker comes back quickly.
      const first = startWorker(prefix, proxy.url, { TQ_VISIBILITY_TIMEOUT: '3', ...env });
      await waitForOutput(first, /"msg":"worker started"/);
      proxy.hold(/^AmazonSQS\.DeleteMessage/);
      await sendWithAwsCli(local.endpoint, queueUrl, JSON.stringify(envelope));
      await proxy.held();
      // The mail went out and the worker is deleting the message: kill it before the delete lands.
      expect(mailsFor(envelope.id)).toHaveLength(1);
      first.kill('SIGKILL');
      await waitForExit(first);
      proxy.hold(undefined);
      const second = startWorker(prefix, local.endpoint.endpoint, env);
      await waitUntil(drained(queueUrl), 'the redelivered message to be settled');
      second.kill('SIGTERM');
      await waitForExit(second);
      return { mails: mailsFor(envelope.id), output: second.output() };
    } finally {
      await proxy.stop();
    }
  }

  it('SIGKILL after the SMTP send, before the delete: the redelivery sends nothing', async () => {
    const { mails, output } = await killedBetweenSendAndDelete({});
    expect(mails).toHaveLength(1);
    expect(output).toMatch(/already done \(idempotency record\)/);
  });

  it('control: the same crash with TQ_IDEMPOTENCY=off sends the mail twice (what the guard prevents)', async () => {
    const { mails } = await killedBetweenSendAndDelete({ TQ_IDEMPOTENCY: 'off' });
    expect(mails).toHaveLength(2);
  });
});
