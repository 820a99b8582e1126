import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueUrlCommand, PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createTask, FAILURE_ATTRIBUTES, parseTask } from '@tq/contracts';
import { queueCounts, testWorkerOptions, uniqueName, waitForMessages } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createProvisioner, defineTopology } from '@tq/topology';
import { createWorker, NonRetryableError } from '@tq/worker';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runTq } from './run-cli.js';

const email = { to: ['ada@example.com'], subject: 'Hi', text: 'Hello' };

describe('tq send, stats and dlq as subprocesses', () => {
  const local = useLocalEndpoint();
  const prefix = uniqueName('cmd');
  let env: Record<string, string>;
  const url = async (name: string) =>
    (await local.sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-${name}` }))).QueueUrl as string;

  beforeAll(async () => {
    const { sqs, sns, s3 } = local;
    await createProvisioner({
      sqs,
      sns,
      s3,
      topology: defineTopology({ prefix, bucket: `${prefix}-artifacts` }),
    }).apply();
    env = { TQ_ENDPOINT: local.endpoint.endpoint, TQ_PREFIX: prefix, TQ_BUCKET: `${prefix}-artifacts` };
  });
  beforeEach(async () => {
    for (const name of ['send_email', 'send_email-dlq']) {
      await local.sqs.send(new PurgeQueueCommand({ QueueUrl: await url(name) }));
    }
  });

  it('tq send: inline JSON, @file and stdin; prints the id; the task arrives', async () => {
    const inline = await runTq(['send', 'send_email', JSON.stringify(email)], env);
    expect(inline.code, inline.output).toBe(0);
    const file = join(tmpdir(), `${prefix}.json`);
    await writeFile(file, JSON.stringify({ ...email, subject: 'from a file' }));
    const fromFile = await runTq(['send', 'send_email', `@${file}`, '--route', 'queue'], env);
    expect(fromFile.code, fromFile.output).toBe(0);
    const fromStdin = await runTq(['send', 'send_email', '-', '--idempotency-key', 'k-1'], env, JSON.stringify(email));
    expect(fromStdin.code, fromStdin.output).toBe(0);

    const ids = [inline, fromFile, fromStdin].map((r) => r.output.split('\n')[0]?.trim());
    const messages = await waitForMessages(local.sqs, await url('send_email'), 3);
    const envelopes = messages.map((m) => {
      const parsed = parseTask(m.Body);
      return parsed.ok ? parsed.envelope : undefined;
    });
    expect(envelopes.map((e) => e?.id).sort()).toEqual([...ids].sort());
    expect(envelopes.find((e) => e?.idempotencyKey === 'k-1')).toBeDefined();
    expect(inline.output).toMatch(new RegExp(`via topic ${prefix}-tasks`));
  });

  it('tq send: bad input is one clear line (plus violations), a non-zero exit, and nothing sent', async () => {
    const malformed = await runTq(['send', 'send_email', '{"to": ['], env);
    expect(malformed.code).toBe(2);
    expect(malformed.output).toMatch(/^tq: the payload argument is not valid JSON/);
    const unknown = await runTq(['send', 'mine_bitcoin', '{}'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.output.trim()).toBe(
      'tq: unknown task "mine_bitcoin" (this project\'s tasks: send_email, process_image, cleanup_data, generate_report)',
    );
    const invalid = await runTq(['send', 'send_email', JSON.stringify({ to: ['nope'], subject: 'x' })], env);
    expect(invalid.code).toBe(2);
    expect(invalid.output).toContain('tq: invalid send_email v1 task');
    expect(invalid.output).toContain('/payload/to/0');
    const delay = await runTq(['send', 'send_email', JSON.stringify(email), '--delay', 'soon'], env);
    expect(delay.code).toBe(2);
    const tooLong = await runTq(['send', 'send_email', JSON.stringify(email), '--delay', '1000'], env);
    expect(tooLong.code).toBe(2);
    expect(tooLong.output.trim()).toBe('tq: --delay is 1000, must be from 0 to 900 seconds');
    const missing = await runTq(['send', 'send_email', '@/nonexistent/payload.json'], env);
    expect(missing.code).toBe(2);
    expect(await queueCounts(local.sqs, await url('send_email'))).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('tq stats: visible, in flight and delayed per task queue and DLQ, as a table and as JSON', async () => {
    for (const delay of [undefined, undefined, 60]) {
      const args = ['send', 'send_email', JSON.stringify(email), '--route', 'queue'];
      if (delay) args.push('--delay', String(delay));
      expect((await runTq(args, env)).code).toBe(0);
    }
    const table = await runTq(['stats'], env);
    expect(table.code, table.output).toBe(0);
    const lines = table.output.split('\n');
    expect(lines[0]).toMatch(/^task\s+visible\s+in flight\s+delayed\s+oldest\s+dlq\s+dlq oldest$/);
    expect(lines.find((line) => line.startsWith('send_email'))).toMatch(/^send_email\s+2\s+0\s+1\s+-\s+0\s+-$/);
    expect(table.output).toContain('CloudWatch');
    const json = await runTq(['stats', '--json'], env);
    const parsed = JSON.parse(json.output.split('\n')[0] ?? '') as {
      tasks: { task: string; queue: { visible: number; delayed: number } }[];
    };
    expect(parsed.tasks.map((t) => t.task)).toEqual(['send_email', 'process_image', 'cleanup_data', 'generate_report']);
    expect(parsed.tasks[0]?.queue).toMatchObject({ visible: 2, delayed: 1 });
  });

  it('tq stats --versions: the payload versions a sample of each queue and DLQ carries, every message left in place', async () => {
    for (let i = 0; i < 2; i += 1) {
      expect((await runTq(['send', 'send_email', JSON.stringify(email), '--route', 'queue'], env)).code).toBe(0);
    }
    // A version this project does not define any more, as an old producer would have sent it.
    const v2 = { ...createTask('send_email', email), version: 2 };
    await local.sqs.send(
      new SendMessageCommand({ QueueUrl: await url('send_email'), MessageBody: JSON.stringify(v2) }),
    );
    const dlq = await url('send_email-dlq');
    await local.sqs.send(
      new SendMessageCommand({ QueueUrl: dlq, MessageBody: JSON.stringify({ task: 'send_email', ...email }) }),
    );
    await local.sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: 'not json' }));
    const table = await runTq(['stats', '--versions'], env);
    expect(table.code, table.output).toBe(0);
    const lines = table.output.split('\n');
    const versions = lines.slice(lines.findIndex((line) => line.startsWith('payload versions')));
    expect(versions[0]).toMatch(/^payload versions\s+queue\s+dlq$/);
    expect(versions.find((line) => line.startsWith('send_email'))).toMatch(
      /^send_email\s+v1 ×2, v2 ×1\s+flat ×1, unreadable ×1$/,
    );
    expect(versions.find((line) => line.startsWith('process_image'))).toMatch(/^process_image\s+-\s+-$/);
    const json = await runTq(['stats', '--json', '--versions', '5'], env);
    const parsed = JSON.parse(json.output.split('\n')[0] ?? '') as { tasks: { task: string; versions: unknown }[] };
    expect(parsed.tasks[0]?.versions).toEqual({
      queue: { sampled: 3, counts: { 1: 2, 2: 1 } },
      dlq: { sampled: 2, counts: { flat: 1, unreadable: 1 } },
    });
    // Sampled, not taken: every message is visible again at once.
    expect(await queueCounts(local.sqs, await url('send_email'))).toMatchObject({ visible: 3, inFlight: 0 });
    expect(await queueCounts(local.sqs, dlq)).toMatchObject({ visible: 2, inFlight: 0 });
    expect((await runTq(['stats', '--versions', '0'], env)).output).toContain(
      'tq: --versions is "0", must be a whole number of messages from 1 to 1000',
    );
  });

  it('tq dlq peek shows reasons, redrive moves every message back intact, purge asks unless --yes', async () => {
    const queueUrl = await url('send_email');
    const bodies = [
      'not json at all',
      JSON.stringify({ ...createTask('send_email', email), payload: { to: [] } }),
      JSON.stringify({ task: 'send_email', to: 'grace@example.com', subject: 'flat form, no body' }),
    ];
    for (const body of bodies) {
      await local.sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: body,
          MessageAttributes: { task: { DataType: 'String', StringValue: 'send_email' } },
        }),
      );
    }
    const worker = createWorker({
      task: 'send_email',
      sqs: local.sqs,
      ...testWorkerOptions(queueUrl),
      handler: () => undefined,
    });
    const dead: string[] = [];
    const allDead = new Promise<void>((resolve) =>
      worker.on('dead-lettered', ({ code }) => {
        dead.push(code);
        if (dead.length === 3) resolve();
      }),
    );
    await worker.start();
    await allDead;
    await worker.stop();

    const peek = await runTq(['dlq', 'peek', 'send_email'], env);
    expect(peek.code, peek.output).toBe(0);
    expect(peek.output).toContain('INVALID_JSON');
    expect(peek.output).toContain('SCHEMA_VIOLATION');
    expect(peek.output).toContain('reason:');
    expect(peek.output).toContain(`from:    ${queueUrl}`);
    expect(peek.output).toContain('tq: 3 message(s) shown');
    const peekJson = await runTq(['dlq', 'peek', 'send_email', '--json'], env);
    expect(
      peekJson.output
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).body)
        .sort(),
    ).toEqual([...bodies].sort());
    // Peeking consumed nothing.
    expect(await queueCounts(local.sqs, await url('send_email-dlq'))).toMatchObject({ visible: 3 });

    // All three would fail validation again: left where they are, with a warning naming why.
    const refusedAll = await runTq(['dlq', 'redrive', 'send_email'], env);
    expect(refusedAll.code, refusedAll.output).toBe(0);
    expect(refusedAll.output).toContain('tq: moved 0 message(s)');
    expect(refusedAll.output).toMatch(
      /warning: left 3 message\(s\) that would fail validation again \(INVALID_JSON ×1, SCHEMA_VIOLATION ×2\)/,
    );
    expect(await queueCounts(local.sqs, await url('send_email-dlq'))).toMatchObject({ visible: 3 });

    const redrive = await runTq(['dlq', 'redrive', 'send_email', '--force'], env);
    expect(redrive.code, redrive.output).toBe(0);
    expect(redrive.output).toContain(
      `tq: moved 3 message(s) from ${prefix}-send_email-dlq to ${prefix}-send_email (send-then-delete; 3 in the DLQ at start)`,
    );
    const back = await waitForMessages(local.sqs, queueUrl, 3);
    expect(back.map((m) => m.Body).sort()).toEqual([...bodies].sort());
    // Routing attributes survive; the failure reasons do not travel back.
    expect(back.every((m) => m.MessageAttributes?.task?.StringValue === 'send_email')).toBe(true);
    expect(back.some((m) => m.MessageAttributes?.[FAILURE_ATTRIBUTES.code])).toBe(false);
    expect(await queueCounts(local.sqs, await url('send_email-dlq'))).toEqual({ visible: 0, inFlight: 0, delayed: 0 });

    await local.sqs.send(new SendMessageCommand({ QueueUrl: await url('send_email-dlq'), MessageBody: 'x' }));
    const refused = await runTq(['dlq', 'purge', 'send_email'], env);
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('without --yes');
    expect(await queueCounts(local.sqs, await url('send_email-dlq'))).toMatchObject({ visible: 1 });
    const purged = await runTq(['dlq', 'purge', 'send_email', '--yes'], env);
    expect(purged.code).toBe(0);
    expect(await queueCounts(local.sqs, await url('send_email-dlq'))).toMatchObject({ visible: 0 });
  });

  it('tq dlq redrive --code and --dry-run choose what moves', async () => {
    const dlqUrl = await url('send_email-dlq');
    const letter = async (code: string, body = JSON.stringify(createTask('send_email', email))) =>
      local.sqs.send(
        new SendMessageCommand({
          QueueUrl: dlqUrl,
          MessageBody: body,
          MessageAttributes: {
            task: { DataType: 'String', StringValue: 'send_email' },
            [FAILURE_ATTRIBUTES.code]: { DataType: 'String', StringValue: code },
          },
        }),
      );
    await letter('RETRIES_EXHAUSTED');
    await letter('RETRIES_EXHAUSTED');
    await letter('SMTP_REJECTED');
    await letter('RETRIES_EXHAUSTED', '{"task":"send_email","to":"not an address"}');

    const dry = await runTq(['dlq', 'redrive', 'send_email', '--dry-run'], env);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.output).toContain('tq: would move 3 message(s)');
    expect(dry.output).toContain('would fail validation again (SCHEMA_VIOLATION ×1)');
    expect(await queueCounts(local.sqs, dlqUrl)).toMatchObject({ visible: 4, inFlight: 0 });

    const some = await runTq(['dlq', 'redrive', 'send_email', '--code', 'RETRIES_EXHAUSTED'], env);
    expect(some.code, some.output).toBe(0);
    expect(some.output).toContain('tq: moved 2 message(s)');
    expect(some.output).toContain('left 1 message(s) dead-lettered with a code other than RETRIES_EXHAUSTED');
    expect(await queueCounts(local.sqs, dlqUrl)).toMatchObject({ visible: 2, inFlight: 0 });
    expect(await queueCounts(local.sqs, await url('send_email'))).toMatchObject({ visible: 2 });

    const bad = await runTq(['dlq', 'redrive', 'send_email', '--move-task', '--code', 'X'], env);
    expect(bad.code).toBe(2);
  });

  it('tq dlq redrive ends while a worker dead-letters every moved message again', async () => {
    const queueUrl = await url('send_email');
    const dlqUrl = await url('send_email-dlq');
    for (let i = 0; i < 20; i += 1) {
      await local.sqs.send(
        new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: JSON.stringify(createTask('send_email', email)) }),
      );
    }
    const worker = createWorker({
      task: 'send_email',
      sqs: local.sqs,
      ...testWorkerOptions(queueUrl),
      handler: () => {
        throw new NonRetryableError('still broken', { code: 'STILL_BROKEN' });
      },
    });
    await worker.start();
    try {
      const redrive = await runTq(['dlq', 'redrive', 'send_email'], env);
      expect(redrive.code, redrive.output).toBe(0);
      const moved = Number(/moved (\d+) message/.exec(redrive.output)?.[1]);
      expect(redrive.output).toContain('(send-then-delete; 20 in the DLQ at start)');
      expect(moved).toBeGreaterThan(0);
      expect(moved).toBeLessThanOrEqual(20);
    } finally {
      await worker.stop();
    }
  });
});
