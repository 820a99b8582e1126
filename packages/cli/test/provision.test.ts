import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { testWorkerOptions, uniqueName } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createWorker } from '@tq/worker';
import { describe, expect, it } from 'vitest';
import { runTq } from './run-cli.js';

const email = { to: ['ada@example.com'], subject: 'Hi', text: 'Hello' };

describe('tq provision', () => {
  const local = useLocalEndpoint();
  const env = (prefix: string) => ({ TQ_ENDPOINT: local.endpoint.endpoint, TQ_PREFIX: prefix, TQ_BUCKET: '' });

  it('plans with --dry-run without changing anything, applies, then reports up to date', async () => {
    const prefix = uniqueName('cli');
    const dry = await runTq(['provision', '--dry-run'], env(prefix));
    expect(dry.code).toBe(0);
    expect(dry.output).toContain(`+ create queue ${prefix}-send_email-dlq`);
    expect(dry.output).toContain(`+ create subscription ${prefix}-tasks -> ${prefix}-generate_report`);
    expect(dry.output).toContain(`+ create table ${prefix}-task-status`);
    expect(dry.output).toContain(`+ create table ${prefix}-idempotency`);
    expect(dry.output).toContain('change(s) planned');
    const sqs = new SQSClient(local.endpoint.clientConfig);
    expect((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls ?? []).toEqual([]);

    const applied = await runTq(['provision'], env(prefix));
    expect(applied.code).toBe(0);
    expect(applied.output).toContain('16 change(s) applied');
    expect((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls).toHaveLength(8);

    const again = await runTq(['provision'], env(prefix));
    expect(again.output.trim()).toBe(`tq: ${prefix} is up to date on ${local.endpoint.endpoint}`);
  });

  it('TQ_FIFO_TASKS: provisions the FIFO pair, tq send --group reaches it, a worker consumes it in order', async () => {
    const prefix = uniqueName('fifo');
    const fifoEnv = { ...env(prefix), TQ_FIFO_TASKS: 'send_email' };
    const withoutFifo = await runTq(['send', 'send_email', JSON.stringify(email), '--group', 'g1'], env(prefix));
    expect(withoutFifo.code).toBe(1);

    const applied = await runTq(['provision'], fifoEnv);
    expect(applied.code, applied.output).toBe(0);
    expect(applied.output).toContain(`+ create queue ${prefix}-send_email.fifo`);
    expect(applied.output).toContain(`+ create queue ${prefix}-send_email-dlq.fifo`);
    expect(applied.output).not.toContain(`+ create subscription ${prefix}-tasks -> ${prefix}-send_email`);

    const noGroup = await runTq(['send', 'send_email', JSON.stringify(email)], fifoEnv);
    expect(noGroup.code).toBe(1);
    expect(noGroup.output).toContain('give a groupId');
    const ids: string[] = [];
    for (const subject of ['first', 'second', 'third']) {
      const sent = await runTq(['send', 'send_email', JSON.stringify({ ...email, subject }), '--group', 'g1'], fifoEnv);
      expect(sent.code, sent.output).toBe(0);
      ids.push(sent.output.split('\n')[0]?.trim() ?? '');
    }

    // The worker finds the FIFO queue from TQ_FIFO_TASKS, as a deployed app does.
    process.env.TQ_FIFO_TASKS = 'send_email';
    const subjects: string[] = [];
    const worker = createWorker({
      task: 'send_email',
      endpoint: local.endpoint.endpoint,
      prefix,
      ...testWorkerOptions(),
      handler: (payload) => {
        subjects.push(payload.subject);
      },
    });
    delete process.env.TQ_FIFO_TASKS;
    const done = new Promise<void>((resolve) =>
      worker.on('succeeded', () => {
        if (subjects.length === 3) resolve();
      }),
    );
    await worker.start();
    await done;
    await worker.stop();
    expect(subjects).toEqual(['first', 'second', 'third']);
    expect(new Set(ids).size).toBe(3);
  });

  it('fails with one line and exit 1 when the endpoint is unreachable', async () => {
    const result = await runTq(['provision'], { TQ_ENDPOINT: 'http://127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.output.trim().split('\n')).toHaveLength(1);
    expect(result.output).toMatch(/^tq: could not .*ECONNREFUSED/);
  });
});

describe('tq schema', () => {
  it('prints the committed JSON Schema of a task', async () => {
    const result = await runTq(['schema', 'send_email']);
    expect(result.code).toBe(0);
    const require = createRequire(import.meta.url);
    const file = require.resolve('@tq/contracts/package.json').replace('package.json', 'schemas/send_email.v1.json');
    expect(result.output).toBe(await readFile(file, 'utf8'));
  });

  it('rejects an unknown task or version with exit 2', async () => {
    const unknown = await runTq(['schema', 'send_sms']);
    expect(unknown.code).toBe(2);
    expect(unknown.output.trim()).toBe(
      'tq: unknown task "send_sms" (this project\'s tasks: send_email, process_image, cleanup_data, generate_report)',
    );
    const version = await runTq(['schema', 'send_email', '--version', '3']);
    expect(version.code).toBe(2);
    expect(version.output.trim()).toBe('tq: task "send_email" has no version 3 (supported: 1)');
  });
});
