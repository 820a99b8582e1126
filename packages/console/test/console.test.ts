import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createTask, readEnvironment } from '@tq/contracts';
import { queueCounts, testWorkerOptions, uniqueName, waitUntil } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createProvisioner, defineTopology } from '@tq/topology';
import { createWorker, NonRetryableError, type Worker, type WorkerEvents } from '@tq/worker';
import { pino } from 'pino';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Console, startConsole } from '../src/index.js';

const run = promisify(execFile);
/** Screenshots of each page, kept as test artifacts (ignored by git). */
const artifacts = fileURLToPath(new URL('../test-results/', import.meta.url));

describe('tq console in a real browser (Debian chromium, playwright-core)', () => {
  const local = useLocalEndpoint();
  let consoleServer: Console;
  let browser: Browser;
  let page: Page;
  let worker: Worker<'send_email'>;
  const prefix = uniqueName('con');
  const urls: Record<string, string> = {};
  const succeeded: WorkerEvents['succeeded'][0][] = [];
  /** Subjects the handler refuses once (then accepts): a dead letter that a redrive can fix. */
  const refuseOnce = new Set<string>(['flaky-once']);

  beforeAll(async () => {
    await mkdir(artifacts, { recursive: true });
    await createProvisioner({
      sqs: local.sqs,
      sns: new SNSClient(local.endpoint.clientConfig),
      s3: new S3Client(local.endpoint.clientConfig),
      topology: defineTopology({ prefix }),
    }).apply();
    for (const task of ['send_email', 'process_image', 'cleanup_data', 'generate_report']) {
      for (const name of [`${prefix}-${task}`, `${prefix}-${task}-dlq`]) {
        urls[name] = (await local.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string;
      }
    }
    worker = createWorker({
      task: 'send_email',
      sqs: local.sqs,
      prefix,
      ...testWorkerOptions(),
      http: { port: 0 },
      handler: (email) => {
        if (refuseOnce.delete(email.subject)) throw new NonRetryableError('mailbox full', { code: 'MAILBOX_FULL' });
        return { subject: email.subject };
      },
    });
    worker.on('succeeded', (event) => succeeded.push(event));
    await worker.start();
    const env = readEnvironment({
      TQ_ENDPOINT: local.endpoint.endpoint,
      TQ_PREFIX: prefix,
      AWS_REGION: local.endpoint.region,
    });
    const health = worker.http as { host: string; port: number };
    consoleServer = await startConsole({
      env,
      refreshMs: 500,
      logger: pino({ level: 'silent' }),
      // As tq up does: the worker's metrics (throughput) and readiness.
      metrics: { send_email: `http://${health.host}:${health.port}/metrics` },
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage();
    await page.goto(consoleServer.link);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await consoleServer?.close();
    await worker?.stop();
  });

  it('overview: every task queue with the counts SQS reports (checked with the aws CLI), live', async () => {
    for (let i = 0; i < 3; i += 1) {
      await local.sqs.send(
        new SendMessageCommand({
          QueueUrl: urls[`${prefix}-process_image`],
          // Waiting work: no image worker runs here, so these stay visible.
          MessageBody: JSON.stringify({ task: 'process_image', waiting: i }),
        }),
      );
    }
    await page.goto(`${consoleServer.url}#/`);
    const cell = page.locator('tr[data-task="process_image"] td[data-field="visible"]');
    await waitUntil(async () => (await cell.textContent()) === '3', 'the overview to show 3 visible (no reload)');
    expect(await page.locator('tbody tr').count()).toBe(4);
    await page.locator('tr[data-task="send_email"] [data-field="worker"]', { hasText: 'worker ready' }).waitFor();
    expect(await page.locator('tr[data-task="process_image"] [data-field="worker"]').count()).toBe(0);
    const overview = (await (await fetch(`${consoleServer.url}api/overview`)).json()) as {
      rates: Record<string, { received: number; done: number }>;
      workers: Record<string, boolean>;
    };
    expect(overview.workers).toEqual({ send_email: true });
    const { stdout } = await run(
      'aws',
      [
        '--endpoint-url',
        local.endpoint.endpoint,
        '--region',
        local.endpoint.region,
        'sqs',
        'get-queue-attributes',
        '--queue-url',
        urls[`${prefix}-process_image`] as string,
        '--attribute-names',
        'All',
      ],
      { env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_PAGER: '' } },
    );
    const attributes = (JSON.parse(stdout) as { Attributes: Record<string, string> }).Attributes;
    for (const [field, attribute] of [
      ['visible', 'ApproximateNumberOfMessages'],
      ['inFlight', 'ApproximateNumberOfMessagesNotVisible'],
      ['delayed', 'ApproximateNumberOfMessagesDelayed'],
    ] as const) {
      expect(await page.locator(`tr[data-task="process_image"] td[data-field="${field}"]`).textContent()).toBe(
        attributes[attribute],
      );
    }
    await page.screenshot({ path: join(artifacts, 'overview.png'), fullPage: true });
  });

  it('dead letters: a poison message shows under its code within seconds; redriving one message moves exactly it', async () => {
    const dlqUrl = urls[`${prefix}-send_email-dlq`] as string;
    await local.sqs.send(
      new SendMessageCommand({ QueueUrl: urls[`${prefix}-send_email`], MessageBody: '{"task": "send_email", oops' }),
    );
    const flaky = createTask('send_email', { to: ['ada@example.com'], subject: 'flaky-once', text: 'hi' });
    await local.sqs.send(
      new SendMessageCommand({ QueueUrl: urls[`${prefix}-send_email`], MessageBody: JSON.stringify(flaky) }),
    );
    await waitUntil(async () => (await queueCounts(local.sqs, dlqUrl)).visible === 2 || undefined, 'two dead letters');

    await page.goto(`${consoleServer.url}#/dlq/send_email`);
    const poisonCode = page.locator('button[data-code="INVALID_JSON"]');
    await waitUntil(async () => {
      if (await poisonCode.count()) return true;
      await page.getByRole('button', { name: 'Read again' }).click();
      return undefined;
    }, 'the INVALID_JSON group');
    expect(await poisonCode.textContent()).toBe('INVALID_JSON (1)');
    expect(await page.locator('button[data-code="MAILBOX_FULL"]').textContent()).toBe('MAILBOX_FULL (1)');
    await page.screenshot({ path: join(artifacts, 'dead-letters.png'), fullPage: true });

    // Open the poison one: its reason and its body, the broken JSON shown as it is.
    await poisonCode.click();
    const rows = page.locator('tbody tr[data-message]');
    await waitUntil(
      async () => (await rows.count()) === 1 || undefined,
      'the list to show the INVALID_JSON group only',
    );
    await page.getByRole('button', { name: 'Open' }).click();
    expect(await page.locator('pre.body').textContent()).toContain('oops');

    // Redrive only the flaky one: the worker handles it now; the poison message stays.
    await page.locator('button[data-code="MAILBOX_FULL"]').click();
    await waitUntil(
      async () => (await rows.first().locator('.badge').textContent()) === 'MAILBOX_FULL' || undefined,
      'the MAILBOX_FULL group',
    );
    await page.locator('tbody input[type="checkbox"]').first().check();
    await page.getByRole('button', { name: /Redrive selected/ }).click();
    await page.getByRole('status').filter({ hasText: 'Redrove 1 message(s).' }).waitFor();
    await waitUntil(() => succeeded.find((event) => event.id === flaky.id), 'the redriven task to be handled');
    await waitUntil(
      async () => (await queueCounts(local.sqs, dlqUrl)).visible === 1 || undefined,
      'one dead letter left',
    );
    await page.getByRole('button', { name: 'Read again' }).click();
    await waitUntil(
      async () => (await page.locator('button[data-code="MAILBOX_FULL"]').count()) === 0 || undefined,
      'the group to go',
    );
    expect(await poisonCode.textContent()).toBe('INVALID_JSON (1)');

    // Fix the poison message in the page: an edit that still breaks the schema is refused with its
    // violations; a valid one is redriven and handled.
    await poisonCode.click();
    await waitUntil(async () => (await rows.count()) === 1 || undefined, 'the poison message');
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('button', { name: 'Edit and redrive' }).click();
    const editor = page.getByLabel('Body');
    await editor.fill(JSON.stringify({ task: 'send_email', version: 1, payload: { to: ['ada@example.com'] } }));
    await page.getByRole('button', { name: 'Validate and redrive' }).click();
    await page.getByRole('status').filter({ hasText: '/payload/subject' }).waitFor();
    const fixed = createTask('send_email', { to: ['ada@example.com'], subject: 'fixed by hand', text: 'hi' });
    await editor.fill(JSON.stringify(fixed));
    await page.getByRole('button', { name: 'Validate and redrive' }).click();
    await page.getByRole('status').filter({ hasText: 'Redrove 1 message(s).' }).waitFor();
    await waitUntil(() => succeeded.find((event) => event.id === fixed.id), 'the fixed task to be handled');
    await waitUntil(async () => (await queueCounts(local.sqs, dlqUrl)).visible === 0 || undefined, 'an empty DLQ');
  });

  it('dead letters: deleting asks first, and deletes only what was selected', async () => {
    const dlqUrl = urls[`${prefix}-send_email-dlq`] as string;
    for (const body of ['not json 1', 'not json 2']) {
      await local.sqs.send(new SendMessageCommand({ QueueUrl: urls[`${prefix}-send_email`], MessageBody: body }));
    }
    await waitUntil(async () => (await queueCounts(local.sqs, dlqUrl)).visible === 2 || undefined, 'two dead letters');
    await page.goto(`${consoleServer.url}#/dlq/send_email`);
    await page.getByRole('button', { name: 'Read again' }).click();
    const rows = page.locator('tbody tr[data-message]');
    await waitUntil(async () => (await rows.count()) === 2 || undefined, 'two rows');
    await rows.first().locator('input[type="checkbox"]').check();
    // Dismissing the confirmation deletes nothing; accepting it deletes the one selected.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.getByRole('button', { name: 'Delete selected' }).click();
    expect((await queueCounts(local.sqs, dlqUrl)).visible).toBe(2);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete selected' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted 1 message(s).' }).waitFor();
    await waitUntil(
      async () => (await queueCounts(local.sqs, dlqUrl)).visible === 1 || undefined,
      'one dead letter left',
    );
  });

  it('send form: refuses an invalid payload naming the fields, then sends a valid one that a worker handles', async () => {
    await page.goto(`${consoleServer.url}#/send/send_email`);
    const to = page.getByLabel(/^to/);
    await to.fill('["not-an-email"]');
    await page.getByRole('button', { name: 'Send' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Not sent/ })
      .waitFor();
    expect(await page.getByLabel(/^subject/).getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#field-payload-to-error').textContent()).toContain('must be an email address');
    await page.screenshot({ path: join(artifacts, 'send-invalid.png'), fullPage: true });

    await to.fill('["grace@example.com"]');
    await page.getByLabel(/^subject/).fill('From the console');
    await page.getByLabel(/^text/).fill('Sent with the form');
    await page.getByRole('button', { name: 'Send' }).click();
    const sent = page.getByRole('status').filter({ hasText: 'Sent:' });
    await sent.waitFor();
    const id = (await sent.locator('a').textContent()) as string;
    await waitUntil(() => succeeded.find((event) => event.id === id), 'the sent task to be handled');
    await page.screenshot({ path: join(artifacts, 'send-sent.png'), fullPage: true });

    // Task by id: without a status table here, the page says it is not tracked.
    await sent.locator('a').click();
    await page.getByText(/Not tracked/).waitFor();
    await page.screenshot({ path: join(artifacts, 'task.png'), fullPage: true });
  });
});
