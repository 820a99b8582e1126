import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type LocalEndpoint, type SmtpSink, startLocalEndpoint, startSmtpSink, uniqueName } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRelayWorker, type RelayWorker } from '../src/relay.js';

const run = promisify(execFile);
const examples = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'python');

describe('Python: a producer validating with the JSON Schema files and boto3, a worker behind the relay', () => {
  let endpoint: LocalEndpoint;
  let smtp: SmtpSink;
  let python: ChildProcess;
  let relay: RelayWorker<'send_email'>;
  const prefix = uniqueName('py');
  let env: Record<string, string>;

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    smtp = await startSmtpSink();
    const config = endpoint.clientConfig;
    await createProvisioner({
      sqs: new SQSClient(config),
      sns: new SNSClient(config),
      s3: new S3Client(config),
      topology: defineTopology({ prefix, bucket: false }),
    }).apply();
    env = { TQ_ENDPOINT: endpoint.endpoint, TQ_PREFIX: prefix, AWS_REGION: 'us-east-1' };
    python = spawn('python3', [join(examples, 'worker.py'), '0'], {
      env: { ...process.env, SMTP_URL: smtp.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      python.once('exit', (code) => reject(new Error(`worker.py exited with ${code}`)));
      createInterface({ input: python.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        const match = /listening on (http:\/\/\S+)/.exec(line);
        if (match?.[1]) resolve(match[1]);
      });
    });
    relay = createRelayWorker({
      task: 'send_email',
      url: `${url}tasks`,
      worker: {
        endpoint: endpoint.endpoint,
        prefix,
        logger: pino({ level: process.env.DEBUG_RELAY ? 'debug' : 'silent' }),
        handleSignals: false,
        waitTimeSeconds: 1,
      },
    });
    await relay.start();
  });
  afterAll(async () => {
    await relay.stop();
    python.kill();
    await smtp.stop();
    await endpoint.stop();
  });

  const producer = (args: string[]) =>
    run('python3', [join(examples, 'producer.py'), ...args], { env: { ...process.env, ...env } });

  it('sends the envelope through SNS and the flat form to the queue; the Python worker mails both', async () => {
    const viaTopic = await producer([
      'send_email',
      JSON.stringify({ to: ['py@example.com'], subject: 'From Python via SNS', text: 'envelope' }),
    ]);
    expect(viaTopic.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
    await producer([
      'send_email',
      JSON.stringify({ to: ['py@example.com', 'two@example.com'], subject: 'From Python, flat', text: 'flat form' }),
      '--flat',
    ]);
    const mails = await smtp.waitFor(2, { where: (mail) => /^From Python/.test(mail.parsed.subject ?? '') });
    const bySubject = new Map(mails.map((mail) => [mail.parsed.subject, mail]));
    expect(bySubject.get('From Python via SNS')?.parsed.text?.trim()).toBe('envelope');
    expect(bySubject.get('From Python, flat')?.envelope.to).toEqual(['py@example.com', 'two@example.com']);
  });

  it('refuses an invalid task with every violation and sends nothing', async () => {
    const failed = await producer(['send_email', JSON.stringify({ to: 'nobody', subject: '' })]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toContain("/payload/subject: '' should be non-empty");
    expect((failed as { stderr: string }).stderr).toContain("/payload/to: 'nobody' is not of type 'array'");
  });
});
