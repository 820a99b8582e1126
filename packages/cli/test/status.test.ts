import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStatusStore, type StatusStore } from '@tq/status';
import { testWorkerOptions, uniqueName } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createWorker, NonRetryableError, type TaskHandler } from '@tq/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTq } from './run-cli.js';

const email = { to: ['ada@example.com'], subject: 'Hi', text: 'Hello' };

describe('tq status and tq results', () => {
  const local = useLocalEndpoint();
  let store: StatusStore;
  const prefix = uniqueName('st');
  let env: Record<string, string>;

  beforeAll(async () => {
    env = { TQ_ENDPOINT: local.endpoint.endpoint, TQ_PREFIX: prefix, TQ_BUCKET: `${prefix}-artifacts` };
    const provisioned = await runTq(['provision'], env);
    expect(provisioned.code, provisioned.output).toBe(0);
    expect(provisioned.output).toContain(`+ create table ${prefix}-task-status`);
    store = createStatusStore({ endpoint: local.endpoint.endpoint, prefix });
  });
  afterAll(async () => {
    await store.close();
  });

  /** A send_email worker on this prefix that records status in the test's store. */
  async function startWorker(handler: TaskHandler<'send_email'>) {
    const worker = createWorker({
      task: 'send_email',
      endpoint: local.endpoint.endpoint,
      prefix,
      status: store,
      ...testWorkerOptions(),
      handler,
    });
    await worker.start();
    return worker;
  }

  it('tq send records sent; tq status --wait follows the task to its end; tq results lists it', async () => {
    const worker = await startWorker((payload, context) => {
      if (payload.subject === 'bounce') throw new NonRetryableError('no such mailbox');
      return { messageId: `<${context.id}@test>`, copy: `s3://${prefix}-artifacts/sent/${context.id}.eml` };
    });
    try {
      const sent = await runTq(['send', 'send_email', JSON.stringify(email)], env);
      expect(sent.code, sent.output).toBe(0);
      const id = sent.output.split('\n')[0]?.trim() as string;

      const status = await runTq(['status', id, '--wait'], env);
      expect(status.code, status.output).toBe(0);
      expect(status.output).toContain(`send_email ${id}: succeeded (1 attempt`);
      expect(status.output).toMatch(/sent\s*\n.*received\s+attempt 1\n.*running\s+attempt 1\n.*succeeded\s+attempt 1/);
      expect(status.output).toContain(`artifact: s3://${prefix}-artifacts/sent/${id}.eml`);
      const json = JSON.parse((await runTq(['status', id, '--json'], env)).output);
      expect(json).toMatchObject({ id, task: 'send_email', state: 'succeeded', result: { messageId: `<${id}@test>` } });

      const bounced = await runTq(['send', 'send_email', JSON.stringify({ ...email, subject: 'bounce' })], env);
      const bouncedId = bounced.output.split('\n')[0]?.trim() as string;
      const failed = await runTq(['status', bouncedId, '--wait'], env);
      expect(failed.code).toBe(1);
      expect(failed.output).toContain('error: NON_RETRYABLE: no such mailbox');
      expect(failed.output).toContain(`tq: ${bouncedId} was dead-lettered`);

      const results = await runTq(['results', 'send_email'], env);
      expect(results.code, results.output).toBe(0);
      expect(results.output).toContain(id);
      expect(results.output).not.toContain(bouncedId);
      expect(results.output).toContain(`s3://${prefix}-artifacts/sent/${id}.eml`);
    } finally {
      await worker.stop();
    }
  });

  it('tq flow send starts a chord; tq status <flow id> shows the tree; a bad flow is refused with its paths', async () => {
    const mail = (subject: string) => ({ task: 'send_email', payload: { ...email, subject } });
    const refused = await runTq(
      ['flow', 'send', JSON.stringify({ group: [mail('a'), { task: 'send_email', payload: { to: ['x'] } }] })],
      env,
    );
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('$.group[1].payload.to[0]');
    expect(refused.output).toContain('$.group[1].payload.subject: is required');

    const file = join(tmpdir(), `tq-flow-${prefix}.json`);
    // biome-ignore lint/suspicious/noThenProperty: the flow's JSON form names it `then`
    await writeFile(file, JSON.stringify({ group: [mail('a'), mail('b')], then: mail('c') }));
    const started = await runTq(['flow', 'send', file], env);
    expect(started.code, started.output).toBe(0);
    const id = started.output.split('\n')[0]?.trim() as string;
    const waiting = await runTq(['status', id], env);
    expect(waiting.code, waiting.output).toBe(0);
    expect(waiting.output).toContain(`flow ${id}: running (3 tasks)`);
    expect(waiting.output).toMatch(/\$\.then\s+send_email\s+waiting/);
    expect(waiting.output).toMatch(/\$\s+group\s+0\/2 ended, then waiting/);

    const worker = await startWorker((payload) => ({ subject: payload.subject }));
    try {
      const done = await runTq(['status', id, '--wait'], env);
      expect(done.code, done.output).toBe(0);
      expect(done.output).toContain(`flow ${id}: succeeded`);
      expect(done.output).toMatch(/\$\.group\[0\]\s+send_email\s+succeeded/);
      expect(done.output).toMatch(/\$\.then\s+send_email\s+succeeded/);
      expect(done.output).toMatch(/\$\s+group\s+2\/2 ended, then started/);

      const cancelled = await runTq(['cancel', id, '--reason', 'too late'], env);
      expect(cancelled.code, cancelled.output).toBe(0);
      expect(cancelled.output).toContain(`flow ${id} had already succeeded: nothing to cancel`);
    } finally {
      await worker.stop();
    }
  });

  it('says what it does not know: an unknown id, a prefix without a status table, a bad task', async () => {
    const unknown = await runTq(['status', '3f1c1f9e-0000-4000-8000-000000000000'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('no status for 3f1c1f9e-0000-4000-8000-000000000000');
    const untracked = await runTq(['status', 'x'], { ...env, TQ_PREFIX: 'nothing-here' });
    expect(untracked.code).toBe(1);
    expect(untracked.output).toContain('the table nothing-here-task-status does not exist (`tq provision` creates it');
    const badTask = await runTq(['results', 'nope'], env);
    expect(badTask.code).toBe(2);
  });
});
