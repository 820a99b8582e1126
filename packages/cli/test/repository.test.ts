// This repository as the first user of its own config: a task type added the documented way
// (`tq add task` at its root) touches the config, the task's file and its worker's folder, and
// every tool then knows it, with nothing else edited.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type LocalEndpoint, startLocalEndpoint } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTq } from './run-cli.js';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Every file under `root` (but node_modules) with a hash of its content. */
function snapshot(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(root, path), createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  walk(root);
  return files;
}

describe('this repository: a task type of its own, added the documented way', () => {
  let scratch: string;
  let endpoint: LocalEndpoint;

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    // A scratch copy of the repository's files as a clone has them (tracked and new, not ignored).
    scratch = mkdtempSync(join(tmpdir(), 'tq-repository-'));
    const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
      cwd: repo,
      maxBuffer: 16 * 1024 * 1024,
    });
    for (const file of stdout.split('\0').filter(Boolean)) {
      try {
        mkdirSync(dirname(join(scratch, file)), { recursive: true });
        copyFileSync(join(repo, file), join(scratch, file));
      } catch (error) {
        // A file deleted in the working tree but still in the index.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    // Its installed packages, as `pnpm install` would lay them out.
    symlinkSync(join(repo, 'node_modules'), join(scratch, 'node_modules'), 'dir');
  });
  afterAll(async () => {
    await endpoint?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('tq add task touches the config, the task file and its worker folder; every tool then has it', async () => {
    const before = snapshot(scratch);
    const added = await runTq(['add', 'task', 'greet_user'], {}, undefined, scratch);
    expect(added.code, added.output).toBe(0);
    const after = snapshot(scratch);
    const touched = [...after.keys()].filter((file) => before.get(file) !== after.get(file)).sort();
    const removed = [...before.keys()].filter((file) => !after.has(file));
    expect(removed).toEqual([]);
    expect(touched).toEqual(
      [
        'tq.config.ts',
        'tasks/greet-user.ts',
        'workers/greet-user/handler.test.ts',
        'workers/greet-user/handler.ts',
        'workers/greet-user/main.ts',
      ].sort(),
    );
    // The config keeps its four apps (the email worker's settings span lines) and gains the fifth.
    const config = readFileSync(join(scratch, 'tq.config.ts'), 'utf8');
    expect(config).toContain("secrets: { SMTP_URL: 'smtp-url' },\n    },\n    'image-worker'");
    expect(config).toContain(
      "    'report-worker': { task: 'generate_report', main: 'apps/report-worker/src/main.ts' },\n    'greet-user-worker': { task: 'greet_user', main: 'workers/greet-user/main.ts' },\n  },\n",
    );

    const schema = await runTq(['schema', 'greet_user'], {}, undefined, scratch);
    expect(schema.code, schema.output).toBe(0);
    expect(JSON.parse(schema.output).properties.task.const).toBe('greet_user');
    const env = { TQ_ENDPOINT: endpoint.endpoint, TQ_PREFIX: 'repo', TQ_BUCKET: 'repo-artifacts' };
    const plan = await runTq(['provision', '--dry-run'], env, undefined, scratch);
    expect(plan.output).toContain('+ create queue repo-greet_user');
    expect(plan.output).toContain('+ create queue repo-send_email');
    const invalid = await runTq(['send', 'greet_user', '{"msg":1}'], env, undefined, scratch);
    expect(invalid.code).toBe(2);
    expect(invalid.output).toMatch(/message/);
  });
});
