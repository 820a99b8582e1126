import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import { FAILURE_ATTRIBUTES } from '@tq/contracts';
import {
  createQueueWithDlq,
  type LocalEndpoint,
  type SmtpSink,
  startLocalEndpoint,
  startSmtpSink,
  testWorkerOptions,
  waitForMessages,
} from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRelayWorker, type RelayWorker } from '../src/relay.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const exampleDir = join(here, '..', '..', '..', 'examples', 'php-worker');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** `php -S` serving a folder on loopback; resolves once it answers. */
async function startPhp(root: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', root], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`php -S exited with ${child.exitCode}: is php-cli installed?`);
    try {
      await fetch(`${url}/`);
      return { child, url };
    } catch {
      if (Date.now() > deadline) throw new Error('php -S did not answer');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The seed article's message, sent by another client: the aws CLI. */
async function sendWithAwsCli(endpoint: string, queueUrl: string, body: object): Promise<void> {
  await run(
    'aws',
    [
      '--endpoint-url',
      endpoint,
      '--region',
      'us-east-1',
      'sqs',
      'send-message',
      '--queue-url',
      queueUrl,
      '--message-body',
      JSON.stringify(body),
    ],
    { env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_PAGER: '' } },
  );
}

describe('the original PHP worker behind the relay (php -S, real SMTP sink, message sent with the aws CLI)', () => {
  let endpoint: LocalEndpoint;
  let sqs: SQSClient;
  let smtp: SmtpSink;
  const php: ChildProcess[] = [];
  const workers: RelayWorker<'send_email'>[] = [];

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    sqs = new SQSClient(endpoint.clientConfig);
    smtp = await startSmtpSink();
  });
  afterAll(async () => {
    for (const worker of workers) await worker.stop();
    for (const child of php) child.kill();
    sqs.destroy();
    await smtp.stop();
    await endpoint.stop();
  });

  async function relayTo(url: string) {
    const { queue, dlq } = await createQueueWithDlq(sqs, { maxReceiveCount: 5 });
    const worker = createRelayWorker({
      task: 'send_email',
      url,
      mode: 'query',
      worker: {
        endpoint: endpoint.endpoint,
        ...testWorkerOptions(queue.url, { retryAtOnce: true }),
      },
    });
    workers.push(worker);
    const settled: string[] = [];
    worker.on('succeeded', ({ attempt }) => settled.push(`succeeded@${attempt}`));
    worker.on('dead-lettered', ({ code, attempt }) => settled.push(`${code}@${attempt}`));
    await worker.start();
    return { queue, dlq, settled };
  }

  const until = async (settled: string[]) => {
    const deadline = Date.now() + 120_000;
    while (settled.length === 0) {
      if (Date.now() > deadline) throw new Error('the task never settled');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return settled[0];
  };

  it('sends the mail of the seed article message through SMTP, and answers 200', async () => {
    const server = await startPhp(exampleDir, { SMTP_URL: smtp.url });
    php.push(server.child);
    const { queue, settled } = await relayTo(`${server.url}/worker.php`);
    await sendWithAwsCli(endpoint.endpoint, queue.url, {
      task: 'send_email',
      to: 'john@example.com',
      from: 'noreply@example.com',
      subject: 'Welcome to our app',
      body: 'Thank you for signing up!',
    });
    expect(await until(settled)).toBe('succeeded@1');
    const [mail] = await smtp.waitFor(1, { where: (m) => m.parsed.subject === 'Welcome to our app' });
    expect(mail?.envelope.to).toEqual(['john@example.com']);
    expect(mail?.parsed.from?.text).toBe('noreply@example.com');
    expect(mail?.parsed.text?.trim()).toBe('Thank you for signing up!');
  });

  it('answering 500 twice then 200: handled once, on attempt 3', async () => {
    const server = await startPhp(join(here, 'fixtures'), { SMTP_URL: smtp.url });
    php.push(server.child);
    const { queue, settled } = await relayTo(`${server.url}/flaky.php`);
    await sendWithAwsCli(endpoint.endpoint, queue.url, {
      task: 'send_email',
      to: 'grace@example.com',
      subject: 'Third time',
      body: 'lucky',
    });
    expect(await until(settled)).toBe('succeeded@3');
    const mails = await smtp.waitFor(1, { where: (m) => m.parsed.subject === 'Third time' });
    expect(mails).toHaveLength(1);
  });

  it('a refused recipient: the worker answers 4xx and the task is dead-lettered with HTTP_422 and the reason', async () => {
    const server = await startPhp(exampleDir, { SMTP_URL: smtp.url });
    php.push(server.child);
    const { queue, dlq, settled } = await relayTo(`${server.url}/worker.php`);
    smtp.fail({ code: 550, message: 'no such user', stage: 'rcpt' });
    await sendWithAwsCli(endpoint.endpoint, queue.url, {
      task: 'send_email',
      to: 'nobody@example.com',
      subject: 'Bounce',
      body: 'x',
    });
    expect(await until(settled)).toBe('HTTP_422@1');
    const [dead] = await waitForMessages(sqs, dlq.url, 1);
    expect(dead?.MessageAttributes?.[FAILURE_ATTRIBUTES.code]?.StringValue).toBe('HTTP_422');
    expect(dead?.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue).toMatch(/^550 .*no such user/);
  });
});
