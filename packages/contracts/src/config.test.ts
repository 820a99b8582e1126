import { describe, expect, it } from 'vitest';
import { defineConfig, isTqConfig } from './config.js';
import { Type } from './index.js';
import { defineTask } from './registry.js';
import { TASK_FACT_RANGES } from './task-facts.js';
import { builtinTasks } from './tasks/index.js';

const task = (name: string, extra: Record<string, unknown> = {}) =>
  defineTask({ name, description: name, versions: { 1: { schema: Type.Object({}) } }, ...extra });

describe('defineConfig', () => {
  it("is a registry of exactly the project's tasks, with the app of each", () => {
    const greet = task('greet_user');
    const config = defineConfig({ tasks: [greet], workers: { greeter: { task: 'greet_user', main: 'w.ts' } } });
    expect(isTqConfig(config)).toBe(true);
    expect(config.registry.names()).toEqual(['greet_user']);
    expect(config.registry.has('send_email')).toBe(false);
    expect(config.workerOf('greet_user')).toMatchObject({
      name: 'greeter',
      main: 'w.ts',
      environment: {},
      secrets: {},
    });
    expect(isTqConfig({ tasks: [], workers: [] })).toBe(false);
  });

  it('refuses what does not hold, with one line naming the fix', () => {
    const greet = task('greet_user');
    const cases: [Parameters<typeof defineConfig>[0], string][] = [
      [
        { tasks: [greet, greet], workers: { a: { task: 'greet_user', main: 'a.ts' } } },
        'task "greet_user" is defined twice',
      ],
      [
        { tasks: [greet], workers: {} },
        `task "greet_user" has no worker app: add one to workers with task: 'greet_user'`,
      ],
      [
        {
          tasks: [greet],
          workers: { a: { task: 'greet_user', main: 'a.ts' }, b: { task: 'greet_usr', main: 'b.ts' } },
        },
        `worker app "b" consumes "greet_usr", which is not a defined task: add its definition to tasks, or fix the app's task`,
      ],
      [
        {
          tasks: [greet],
          workers: { a: { task: 'greet_user', main: 'a.ts' }, b: { task: 'greet_user', main: 'b.ts' } },
        },
        'task "greet_user" is consumed by two worker apps, "a" and "b": each task has one worker app',
      ],
      [
        { tasks: [greet], workers: { Greeter: { task: 'greet_user', main: 'a.ts' } } },
        'worker app "Greeter": its name must match',
      ],
      [{ tasks: [greet], workers: { a: { task: 'greet_user', main: '' } } }, 'worker app "a" has no main'],
      [
        { tasks: [task('chain', { sends: ['missing'] })], workers: { a: { task: 'chain', main: 'a.ts' } } },
        'task "chain" sends "missing", which is not a defined task: define it, or remove it from sends',
      ],
      [
        { tasks: [greet], workers: { a: { task: 'greet_user', main: 'a.ts', secrets: { SMTP_URL: 'SMTP URL' } } } },
        `worker app "a": secret of SMTP_URL is "SMTP URL": name it in kebab-case, such as 'smtp-url'`,
      ],
      [
        { tasks: [greet], workers: { a: { task: 'greet_user', main: 'a.ts', environment: { 'smtp-url': 'x' } } } },
        'worker app "a": "smtp-url" is not a variable name: use UPPER_SNAKE_CASE',
      ],
      [
        {
          tasks: [greet],
          workers: {
            a: { task: 'greet_user', main: 'a.ts', environment: { SMTP_URL: 'x' }, secrets: { SMTP_URL: 'smtp-url' } },
          },
        },
        'worker app "a": SMTP_URL is both a setting and a secret: keep it in one of environment and secrets',
      ],
    ];
    for (const [input, message] of cases) expect(() => defineConfig(input), message).toThrow(message);
  });

  it('this repository: the four built-in tasks, each with its own app', () => {
    const config = defineConfig({
      tasks: builtinTasks,
      workers: Object.fromEntries(
        builtinTasks.map((definition) => [
          `${definition.name.split('_')[0]}-worker`,
          { task: definition.name, main: 'x.ts' },
        ]),
      ),
    });
    expect(config.workers.map((app) => app.task)).toEqual([
      'send_email',
      'process_image',
      'cleanup_data',
      'generate_report',
    ]);
  });
});

describe("a task's operational facts", () => {
  it('default from one table, and keep what the definition says', () => {
    const plain = task('plain');
    expect(plain.worker).toEqual({
      concurrency: TASK_FACT_RANGES.concurrency.default,
      handlerTimeoutMs: TASK_FACT_RANGES.handlerTimeoutMs.default,
    });
    expect(plain).toMatchObject({ idempotency: false, s3Allow: undefined, s3Writes: true, sends: [], fifo: false });
    expect(plain.scaling).toEqual({ secondsPerMessage: 5, minTasks: 1, maxTasks: 10, cpu: 512, memoryMiB: 1024 });
    const own = task('own', {
      fifo: true,
      worker: { concurrency: 'cores', handlerTimeoutMs: 1000 },
      idempotency: true,
      s3Allow: ['s3://media/in/', 's3://media'],
      scaling: { minTasks: 0, cpu: 2048, memoryMiB: 4096 },
    });
    expect(own).toMatchObject({ fifo: true, idempotency: true, s3Allow: ['s3://media/in/', 's3://media'] });
    expect(own.worker).toEqual({ concurrency: 'cores', handlerTimeoutMs: 1000 });
    expect(own.scaling).toMatchObject({ minTasks: 0, cpu: 2048, memoryMiB: 4096, maxTasks: 10 });
  });

  it('are checked against their ranges, every violation with its path', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ worker: { concurrency: 0 } }, '/worker/concurrency: concurrency is 0, must be an integer from 1 to 10000'],
      [{ worker: { concurrency: 2.5 } }, '/worker/concurrency: concurrency is 2.5, must be an integer from 1 to 10000'],
      [{ worker: { handlerTimeoutMs: -1 } }, '/worker/handlerTimeoutMs: handlerTimeoutMs is -1'],
      [{ scaling: { cpu: 300 } }, '/scaling/cpu: cpu is 300, must be one of 256, 512, 1024'],
      [{ scaling: { memoryMiB: 100 } }, '/scaling/memoryMiB: memoryMiB is 100, must be an integer from 512 to 122880'],
      [{ scaling: { minTasks: 5, maxTasks: 2 } }, '/scaling/minTasks: minTasks is 5, more than maxTasks 2'],
      [{ scaling: { secondsPerMessage: 0 } }, '/scaling/secondsPerMessage: secondsPerMessage is 0'],
      [
        { s3Allow: ['s3://media/in'] },
        '/s3Allow/0: "s3://media/in" must be s3://bucket or s3://bucket/prefix/ (ending in /)',
      ],
    ];
    for (const [extra, message] of cases) {
      expect(() => task('bad', extra), message).toThrow(`task "bad" has invalid settings: ${message}`);
    }
  });

  it('the built-in tasks carry the facts their apps and deployment read', () => {
    const [email, image, cleanup, report] = builtinTasks;
    expect(email).toMatchObject({ idempotency: true, s3Writes: false, worker: { concurrency: 10 } });
    expect(image?.worker.concurrency).toBe('cores');
    expect(cleanup?.worker.handlerTimeoutMs).toBe(60 * 60_000);
    expect(report).toMatchObject({
      idempotency: true,
      sends: ['send_email'],
      queue: { visibilityTimeoutSeconds: 300 },
    });
  });
});
