import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { readEnvironment } from '@tq/contracts';
import { createProducer } from '@tq/producer-sdk';
import { createStatusStore, ensureStatusTable, type StatusStore } from '@tq/status';
import { testWorkerOptions, uniqueName, waitUntil } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createProvisioner, defineTopology } from '@tq/topology';
import { createWorker, type Worker } from '@tq/worker';
import { pino } from 'pino';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Console, startConsole } from '../src/index.js';

const artifacts = fileURLToPath(new URL('../test-results/', import.meta.url));

describe('the console shows a flow as a tree and a task its progress (Debian chromium)', () => {
  const local = useLocalEndpoint();
  const prefix = uniqueName('conflow');
  let store: StatusStore;
  let worker: Worker<'send_email'>;
  let consoleServer: Console;
  let browser: Browser;
  /** Holds the task that reports progress until the test has seen it. */
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });

  beforeAll(async () => {
    const sns = new SNSClient(local.endpoint.clientConfig);
    const s3 = new S3Client(local.endpoint.clientConfig);
    await createProvisioner({ sqs: local.sqs, sns, s3, topology: defineTopology({ prefix }) }).apply();
    store = createStatusStore({ endpoint: local.endpoint.endpoint, prefix, coalesceMs: 10 });
    await ensureStatusTable(store.dynamodb, store.tableName);
    worker = createWorker({
      task: 'send_email',
      sqs: local.sqs,
      prefix,
      status: store,
      ...testWorkerOptions(),
      handler: async (email, context) => {
        if (email.subject === 'long') {
          context.progress(0.4, 'rendering page 4 of 10');
          await held;
        }
        return { subject: email.subject };
      },
    });
    await worker.start();
    const env = readEnvironment({ TQ_ENDPOINT: local.endpoint.endpoint, TQ_PREFIX: prefix, AWS_REGION: 'us-east-1' });
    consoleServer = await startConsole({ env, refreshMs: 500, logger: pino({ level: 'silent' }) });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  }, 120_000);

  afterAll(async () => {
    release();
    await browser?.close();
    await consoleServer?.close();
    await worker?.stop();
    await store?.close();
  });

  it('lists every node of a chord with its state and result, and shows a running task’s progress', async () => {
    const producer = createProducer({ endpoint: local.endpoint.endpoint, prefix, status: store });
    const mail = (subject: string) => ({
      task: 'send_email' as const,
      payload: { to: ['ada@example.com'], subject, text: 'hi' },
    });
    const { id } = await producer.flow({ group: [mail('first'), mail('second')], then: mail('summary') });
    await waitUntil(async () => (await producer.flowStatus(id))?.state === 'succeeded', 'the flow to end');
    const page = await browser.newPage();
    await page.goto(`${consoleServer.url}#/task/${id}`);
    const tree = page.getByRole('table', { name: 'flow' });
    await tree.waitFor();
    await page
      .getByText(/succeeded/)
      .first()
      .waitFor();
    const rows = await tree.locator('tbody tr').allTextContents();
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/\$\s*group of 2\s*2\/2 ended, then started/);
    expect(rows[1]).toMatch(/group\[0\]\s*send_email\s*succeeded.*"subject":"first"/);
    expect(rows[3]).toMatch(/then\s*send_email\s*succeeded.*"subject":"summary"/);
    await page.screenshot({ path: `${artifacts}flow.png`, fullPage: true });

    const { id: longId } = await producer.send('send_email', mail('long').payload);
    await page.goto(`${consoleServer.url}#/task/${longId}`);
    await waitUntil(async () => (await store.reader.get(longId))?.progress, 'the progress report');
    await page.reload();
    const bar = page.getByRole('progressbar', { name: 'progress' });
    await bar.waitFor();
    expect(await bar.getAttribute('value')).toBe('0.4');
    expect(await page.getByText('rendering page 4 of 10').count()).toBe(1);
    release();
    await producer.close();
  });
});
