// A project outside this repository with a task type of its own: every tool must work from its
// tq.config.ts, and none may fall back to tq's built-in four task types.

import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type LocalEndpoint, startLocalEndpoint, uniqueName, waitForExit } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTq, spawnTq, waitForOutput } from './run-cli.js';

const here = dirname(fileURLToPath(import.meta.url));
const packages = join(here, '..', '..');

/** The fixture project copied to a folder of its own, outside any workspace, its @tq packages linked in. */
function scratchProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tq-project-'));
  cpSync(join(here, 'fixtures', 'greeter-project'), dir, { recursive: true });
  mkdirSync(join(dir, 'node_modules', '@tq'), { recursive: true });
  for (const name of ['contracts', 'worker']) {
    symlinkSync(join(packages, name), join(dir, 'node_modules', '@tq', name), 'dir');
  }
  return dir;
}

describe('a project of its own (tq.config.ts outside this repository)', () => {
  let endpoint: LocalEndpoint;
  let project: string;
  const prefix = uniqueName('own');
  let env: Record<string, string>;
  const inProject = (args: string[], extra: Record<string, string> = {}) =>
    runTq(args, { ...env, ...extra }, undefined, project);

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    project = scratchProject();
    env = { TQ_ENDPOINT: endpoint.endpoint, TQ_PREFIX: prefix, TQ_BUCKET: `${prefix}-artifacts` };
  });
  afterAll(async () => {
    await endpoint?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("tq schema and tq send know the project's task, and only it", async () => {
    const schema = await inProject(['schema', 'greet_user']);
    expect(schema.code, schema.output).toBe(0);
    expect(JSON.parse(schema.output).properties.payload.properties.name).toMatchObject({ type: 'string' });
    const builtin = await inProject(['schema', 'send_email']);
    expect(builtin.code).toBe(2);
    expect(builtin.output.trim()).toBe('tq: unknown task "send_email" (this project\'s tasks: greet_user)');
    // Every version's schema as files, for producers and workers in other languages; a stale one goes.
    const out = join(project, 'schemas');
    mkdirSync(out);
    writeFileSync(join(out, 'old_task.v1.json'), '{}');
    writeFileSync(join(out, 'README.md'), 'kept');
    const written = await inProject(['schema', '--out', 'schemas']);
    expect(written.code, written.output).toBe(0);
    expect(written.output.trim()).toBe('tq: 1 schema files in schemas');
    expect(readdirSync(out).sort()).toEqual(['README.md', 'greet_user.v1.json']);
    expect(JSON.parse(readFileSync(join(out, 'greet_user.v1.json'), 'utf8')).properties.task.const).toBe('greet_user');
    expect((await inProject(['schema', 'greet_user', '--out', 'schemas'])).code).toBe(2);
    // The demo sends the built-in example types: it says so instead of sending them here.
    const demo = await inProject(['demo']);
    expect(demo.code).toBe(2);
    expect(demo.output.trim()).toMatch(
      /^tq: tq demo sends tq's four example task types, and this project does not define send_email, process_image, cleanup_data, generate_report: /,
    );
    const invalid = await inProject(['send', 'greet_user', '{"name": 5}']);
    expect(invalid.code).toBe(2);
    expect(invalid.output).toContain('/payload/name');
  });

  it('tq provision makes its queue and DLQ and nothing for the built-in tasks', async () => {
    const provisioned = await inProject(['provision']);
    expect(provisioned.code, provisioned.output).toBe(0);
    const sqs = new SQSClient(endpoint.clientConfig);
    try {
      const queues = ((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls ?? []).map((url) =>
        url.slice(url.lastIndexOf('/') + 1),
      );
      expect(queues.sort()).toEqual([`${prefix}-greet_user`, `${prefix}-greet_user-dlq`]);
    } finally {
      sqs.destroy();
    }
    const stats = await inProject(['stats', '--json']);
    expect(stats.code, stats.output).toBe(0);
    const parsed = JSON.parse(stats.output.split('\n')[0] ?? '') as { tasks: { task: string }[] };
    expect(parsed.tasks.map((row) => row.task)).toEqual(['greet_user']);
  });

  it("tq dlq redrives the project's dead-lettered task, checked against its schema", async () => {
    expect((await inProject(['provision'])).code).toBe(0);
    const sqs = new SQSClient(endpoint.clientConfig);
    try {
      const url = (name: string) => sqs.send(new GetQueueUrlCommand({ QueueName: name })).then((r) => r.QueueUrl ?? '');
      const dlq = await url(`${prefix}-greet_user-dlq`);
      const envelope = (payload: unknown) => ({
        id: randomUUID(),
        task: 'greet_user',
        version: 1,
        createdAt: new Date().toISOString(),
        payload,
      });
      const good = envelope({ name: 'Ada' });
      const bad = envelope({ name: 5 });
      for (const body of [good, bad]) {
        await sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: JSON.stringify(body) }));
      }
      const redrive = await inProject(['dlq', 'redrive', 'greet_user']);
      expect(redrive.code, redrive.output).toBe(0);
      // The valid one moves (an unknown task it is not); the one that breaks the schema stays.
      expect(redrive.output).toMatch(/moved 1 message\(s\)/);
      expect(redrive.output).toMatch(/SCHEMA_VIOLATION/);
      const back = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: await url(`${prefix}-greet_user`), WaitTimeSeconds: 5 }),
      );
      expect(JSON.parse(back.Messages?.[0]?.Body ?? '{}')).toMatchObject({ id: good.id, task: 'greet_user' });
    } finally {
      sqs.destroy();
    }
  });

  it('tq up runs its TypeScript worker with no build step; a task sent is read back succeeded', async () => {
    expect((await inProject(['provision'])).code).toBe(0);
    const up = spawnTq(['up', '--memory', '--no-console'], { ...env, TQ_HTTP_PORT: 'off' }, project);
    try {
      // The worker app of the config, started from its .ts file, with the task's defaults.
      await waitForOutput(up, /greeter .*worker started/);
      expect(up.output()).toMatch(/tq: workers: greeter\b/);
      const sent = await inProject(['send', 'greet_user', '{"name":"Ada"}']);
      expect(sent.code, sent.output).toBe(0);
      const id = sent.output.split('\n')[0]?.trim() ?? '';
      const status = await inProject(['status', id, '--wait', '--json']);
      expect(status.code, status.output).toBe(0);
      expect(JSON.parse(status.output)).toMatchObject({
        task: 'greet_user',
        state: 'succeeded',
        result: { greeting: 'Hello, Ada' },
      });
    } finally {
      up.kill('SIGTERM');
      await waitForExit(up);
    }
  });

  it('a config that does not hold stops every command with one line naming the file and the fix', async () => {
    const write = (body: string) => writeFileSync(join(project, 'broken.config.ts'), body);
    const cases: [string, RegExp][] = [
      [
        "import { defineConfig } from '@tq/contracts';\nimport { greetUser } from './tasks/greet-user.js';\nexport default defineConfig({ tasks: [greetUser, greetUser], workers: { greeter: { task: 'greet_user', main: 'workers/greeter.ts' } } });",
        /^tq: broken\.config\.ts: task "greet_user" is defined twice$/,
      ],
      [
        "import { defineConfig } from '@tq/contracts';\nimport { greetUser } from './tasks/greet-user.js';\nexport default defineConfig({ tasks: [greetUser], workers: {} });",
        /^tq: broken\.config\.ts: task "greet_user" has no worker app: add one to workers with task: 'greet_user'$/,
      ],
      [
        "import { defineConfig } from '@tq/contracts';\nimport { greetUser } from './tasks/greet-user.js';\nexport default defineConfig({ tasks: [greetUser], workers: { greeter: { task: 'greet_user', main: 'w.ts' }, texter: { task: 'send_sms', main: 't.ts' } } });",
        /^tq: broken\.config\.ts: worker app "texter" consumes "send_sms", which is not a defined task: add its definition to tasks, or fix the app's task$/,
      ],
      [
        "import { defineTask, Type } from '@tq/contracts';\nexport const bad = defineTask({ name: 'x', description: 'x', versions: { 1: { schema: Type.Object({}) } }, worker: { concurrency: 0 } });\nexport default {};",
        /^tq: broken\.config\.ts: task "x" has invalid settings: \/worker\/concurrency: concurrency is 0, must be an integer from 1 to 10000$/,
      ],
      [
        "import { defineConfig } from '@tq/contracts';\nimport { greetUser } from './tasks/greet-user.js';\nexport default defineConfig({ tasks: [greetUser], workers: { a: { task: 'greet_user', main: 'a.ts' }, b: { task: 'greet_user', main: 'b.ts' } } });",
        /^tq: broken\.config\.ts: task "greet_user" is consumed by two worker apps, "a" and "b": each task has one worker app$/,
      ],
      [
        'export default {};',
        /^tq: broken\.config\.ts does not export a configuration: its default export must be defineConfig/,
      ],
      ['export default defineConfig({', /^tq: broken\.config\.ts: .+ \(fix the error, or the import it names\)$/],
    ];
    for (const [body, expected] of cases) {
      write(body);
      const result = await inProject(['--config', 'broken.config.ts', 'stats']);
      expect(result.code, result.output).toBe(2);
      expect(result.output.trim().split('\n')).toHaveLength(1);
      expect(result.output.trim()).toMatch(expected);
    }
    const none = await runTq(['stats'], env, undefined, tmpdir());
    expect(none.code).toBe(2);
    expect(none.output.trim()).toMatch(/^tq: no tq\.config\.ts in .+ or a folder above it: run `tq init <dir>`/);
  });
});
