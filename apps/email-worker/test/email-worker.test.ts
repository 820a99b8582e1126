import { randomBytes } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { createTask, encodeMessageBody, FAILURE_ATTRIBUTES, type TaskPayloads } from '@tq/contracts';
import {
  createQueueWithDlq,
  createTestBucket,
  type SmtpSink,
  startSmtpSink,
  type TestBucket,
  testWorkerOptions,
  waitForMessages,
} from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import type { Worker, WorkerEvents } from '@tq/worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmailWorker } from '../src/worker.js';

type Email = TaskPayloads['send_email'];

function next<E extends keyof WorkerEvents>(worker: Worker, event: E, count = 1): Promise<WorkerEvents[E][0][]> {
  const seen: WorkerEvents[E][0][] = [];
  return new Promise((resolve) => {
    worker.on(event, ((data: WorkerEvents[E][0]) => {
      seen.push(data);
      if (seen.length === count) resolve(seen);
    }) as never);
  });
}

describe('email worker against a real SMTP server', () => {
  const local = useLocalEndpoint();
  let files: TestBucket;
  let smtp: SmtpSink;
  const bucket = `mail-${Date.now().toString(36)}`;
  const workers: Worker[] = [];

  beforeAll(async () => {
    files = await createTestBucket(local.s3, { name: bucket });
    smtp = await startSmtpSink();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });
  afterAll(async () => {
    await smtp.stop();
  });

  async function start(options: { ratePerSecond?: number; maxAttachmentBytes?: number } = {}) {
    const { sqs, s3 } = local;
    const { queue, dlq } = await createQueueWithDlq(sqs, { maxReceiveCount: 5 });
    const worker = createEmailWorker({
      s3,
      s3Allow: [bucket],
      smtp: smtp.url,
      from: 'Acme <no-reply@acme.example>',
      ...options,
      worker: {
        sqs,
        ...testWorkerOptions(queue.url, { retryAtOnce: true }),
      },
    });
    workers.push(worker);
    await worker.start();
    const send = async (payload: Email | string) => {
      const body = typeof payload === 'string' ? payload : encodeMessageBody(createTask('send_email', payload));
      await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
      return typeof payload === 'string' ? undefined : (JSON.parse(body) as { id: string }).id;
    };
    return { worker, queue, dlq, send };
  }

  it('delivers headers, bodies and S3 attachments byte for byte, with a Message-ID from the task id', async () => {
    const binary = randomBytes(200_000);
    await files.put('files/data.bin', binary);
    await files.put('files/logo.png', Buffer.from('png-bytes'), 'image/png');
    const { worker, send } = await start();
    const done = next(worker, 'succeeded');
    const id = await send({
      to: [{ name: 'Ada Lovelace', address: 'ada@example.com' }, 'charles@example.com'],
      cc: ['cc@example.com'],
      bcc: ['hidden@example.com'],
      replyTo: 'support@acme.example',
      subject: 'Grüße — your report 📈',
      text: 'Plain body',
      html: '<p>HTML body <img src="cid:logo@acme"></p>',
      attachments: [
        { filename: 'data.bin', source: `s3://${bucket}/files/data.bin`, contentType: 'application/octet-stream' },
        { filename: 'logo.png', source: `s3://${bucket}/files/logo.png`, contentId: 'logo@acme' },
      ],
    });
    const [result] = await done;
    const [mail] = await smtp.waitFor(1);
    const parsed = mail?.parsed;
    expect(parsed?.messageId).toBe(`<${id}@acme.example>`);
    expect((result?.result as { messageId?: string } | undefined)?.messageId).toBe(`<${id}@acme.example>`);
    expect(parsed?.headers.get('x-tq-task-id')).toBe(id);
    expect(parsed?.from?.value[0]).toMatchObject({ name: 'Acme', address: 'no-reply@acme.example' });
    expect(parsed?.subject).toBe('Grüße — your report 📈');
    expect(parsed?.text?.trim()).toBe('Plain body');
    expect(parsed?.html).toContain('<p>HTML body');
    expect(JSON.stringify(parsed?.to)).toContain('Ada Lovelace');
    expect(parsed?.replyTo?.text).toBe('support@acme.example');
    // Bcc is an envelope recipient, never a header.
    expect(mail?.envelope.to.sort()).toEqual(
      ['ada@example.com', 'cc@example.com', 'charles@example.com', 'hidden@example.com'].sort(),
    );
    expect(mail?.raw.toString()).not.toMatch(/^bcc:/im);
    const data = parsed?.attachments.find((a) => a.filename === 'data.bin');
    expect(data?.content.equals(binary)).toBe(true);
    const logo = parsed?.attachments.find((a) => a.filename === 'logo.png');
    expect(logo?.contentType).toBe('image/png');
    expect(logo?.cid).toBe('logo@acme');
    expect(logo?.content.toString()).toBe('png-bytes');
  });

  it("delivers the seed article's flat message sent raw by any SQS client", async () => {
    const { worker, send } = await start();
    const done = next(worker, 'succeeded');
    await send(
      JSON.stringify({
        task: 'send_email',
        to: 'john@example.com',
        from: 'app@example.com',
        subject: 'Welcome to our app',
        body: 'Thank you for signing up!',
      }),
    );
    await done;
    const mail = (await smtp.waitFor(1, { where: (m) => m.parsed.subject === 'Welcome to our app' }))[0];
    expect(mail?.parsed.text?.trim()).toBe('Thank you for signing up!');
    expect(mail?.envelope.from).toBe('app@example.com');
  });

  it('retries an SMTP 4xx reply and delivers on the next attempt', async () => {
    const { worker, send } = await start();
    const retrying = next(worker, 'retrying');
    const done = next(worker, 'succeeded');
    smtp.fail({ code: 451, message: 'try again later', stage: 'rcpt', times: 1 });
    const id = await send({ to: ['later@example.com'], subject: 'Greylisted', text: 'x' });
    const [retry] = await retrying;
    expect(String((retry?.error as Error | undefined)?.message)).toContain('451');
    const [result] = await done;
    expect(result).toMatchObject({ id, attempt: 2 });
    await smtp.waitFor(1, { where: (m) => m.parsed.subject === 'Greylisted' });
  });

  it('dead-letters a 5xx rejection with the SMTP response as the reason, without retrying', async () => {
    const { worker, dlq, send } = await start();
    const dead = next(worker, 'dead-lettered');
    smtp.fail({ code: 550, message: 'mailbox unavailable', stage: 'rcpt', times: 1 });
    await send({ to: ['gone@example.com'], subject: 'Bounce', text: 'x' });
    const [letter] = await dead;
    expect(letter).toMatchObject({ code: 'SMTP_REJECTED', attempt: 1 });
    const [message] = await waitForMessages(local.sqs, dlq.url, 1);
    expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.code]?.StringValue).toBe('SMTP_REJECTED');
    expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue).toMatch(/550.*mailbox unavailable/);
    expect(smtp.messages.some((m) => m.parsed.subject === 'Bounce')).toBe(false);
  });

  it('makes header injection impossible: CR/LF in a subject or a bad address never reaches SMTP', async () => {
    const { worker, dlq, send } = await start();
    const dead = next(worker, 'dead-lettered', 2);
    await send(
      JSON.stringify({
        task: 'send_email',
        to: 'victim@example.com',
        subject: 'Hello\r\nBcc: everyone@example.com',
        body: 'spam',
      }),
    );
    await send(JSON.stringify({ task: 'send_email', to: 'a@example.com>\r\nX-Evil: 1', subject: 'x', body: 'y' }));
    const letters = await dead;
    expect(letters.map((l) => l.code)).toEqual(['SCHEMA_VIOLATION', 'SCHEMA_VIOLATION']);
    const messages = await waitForMessages(local.sqs, dlq.url, 2);
    expect(messages.map((m) => m.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue).join('\n')).toMatch(
      /\/subject|\/to/,
    );
    expect(smtp.messages.some((m) => m.envelope.to.includes('victim@example.com'))).toBe(false);
  });

  it('dead-letters a task whose attachment is missing from S3', async () => {
    const { worker, send } = await start();
    const dead = next(worker, 'dead-lettered');
    await send({
      to: ['x@example.com'],
      subject: 'With a missing file',
      text: 'x',
      attachments: [{ filename: 'gone.pdf', source: `s3://${bucket}/nope/gone.pdf` }],
    });
    const [letter] = await dead;
    expect(letter).toMatchObject({ code: 'ATTACHMENT_MISSING' });
    expect(letter?.reason).toContain(`s3://${bucket}/nope/gone.pdf`);
  });

  it('mails nothing from outside its allow-list, and nothing over its attachment budget', async () => {
    const other = `secrets-${Date.now().toString(36)}`;
    await (await createTestBucket(local.s3, { name: other })).put('secret.txt', 'the launch codes');
    await files.put('files/40k.bin', Buffer.alloc(40_000, 1));
    const { worker, send } = await start({ maxAttachmentBytes: 50_000 });
    const dead = next(worker, 'dead-lettered', 3);
    const attach = (subject: string, sources: string[]) =>
      send({
        to: ['attacker@example.com'],
        subject,
        text: 'x',
        attachments: sources.map((source, i) => ({ filename: `f${i}.bin`, source })),
      });
    await attach('foreign', [`s3://${bucket}/files/40k.bin`, `s3://${other}/secret.txt`]);
    // A plain SQS client can send what createTask refuses: a key that climbs out of its prefix.
    await send(
      encodeMessageBody(
        createTask('send_email', {
          to: ['attacker@example.com'],
          subject: 'dotted',
          text: 'x',
          attachments: [{ filename: 'f.bin', source: `s3://${bucket}/files/40k.bin` }],
        }),
      ).replace('/files/40k.bin', '/files/../files/40k.bin'),
    );
    await attach('over budget', [`s3://${bucket}/files/40k.bin`, `s3://${bucket}/files/40k.bin`]);
    const letters = await dead;
    expect(letters.map((letter) => letter.code).sort()).toEqual([
      'ATTACHMENT_TOO_LARGE',
      'LOCATION_NOT_ALLOWED',
      'SCHEMA_VIOLATION',
    ]);
    expect(smtp.messages.some((m) => m.envelope.to.includes('attacker@example.com'))).toBe(false);
  });

  it('keeps to the configured send rate', async () => {
    const { worker, send } = await start({ ratePerSecond: 2 });
    const done = next(worker, 'succeeded', 5);
    const started = Date.now();
    for (let i = 0; i < 5; i += 1) await send({ to: ['rate@example.com'], subject: `rate ${i}`, text: 'x' });
    await done;
    // 5 mails at 2 per second need at least three one-second windows: a lower bound, not a timing gate.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  });
});
