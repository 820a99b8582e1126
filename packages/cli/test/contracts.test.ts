// tq contracts lock / check in a project outside this repository (the greeter fixture): the lock
// of what was released, breaking and additive changes to its own task, and bad locks.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTq } from './run-cli.js';

const here = dirname(fileURLToPath(import.meta.url));
const packages = join(here, '..', '..');

const task = (versions: string) => `import { defineTask, Type } from '@tq/contracts';

export const greetUser = defineTask({
  name: 'greet_user',
  description: 'Greets a user by name.',
  versions: { ${versions} },
});
`;
const V1 = `1: { schema: Type.Object({ name: Type.String({ minLength: 1, maxLength: 80 }) }, { additionalProperties: false }) }`;

describe('tq contracts in a project of its own', () => {
  let project: string;
  const tq = (args: string[]) => runTq(['contracts', ...args], {}, undefined, project);
  const setTask = (versions: string) => writeFileSync(join(project, 'tasks', 'greet-user.ts'), task(versions));
  const lockFile = () => join(project, 'tq.contracts.json');

  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'tq-contracts-'));
    cpSync(join(here, 'fixtures', 'greeter-project'), project, { recursive: true });
    mkdirSync(join(project, 'node_modules', '@tq'), { recursive: true });
    for (const name of ['contracts', 'worker']) {
      symlinkSync(join(packages, name), join(project, 'node_modules', '@tq', name), 'dir');
    }
    setTask(V1);
  });
  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('without a lock: one line that says how to write it; lock writes it; check then passes', async () => {
    const missing = await tq(['check']);
    expect(missing.code).toBe(2);
    expect(missing.output.trim()).toBe(
      'tq: no tq.contracts.json: write it with tq contracts lock (and commit it) when these contracts are released',
    );
    const locked = await tq(['lock']);
    expect(locked.code, locked.output).toBe(0);
    expect(locked.output.trim()).toBe('tq: tq.contracts.json: 1 task, 1 version locked');
    const lock = JSON.parse(readFileSync(lockFile(), 'utf8'));
    expect(Object.keys(lock)).toEqual(['greet_user']);
    expect(lock.greet_user['1'].properties.name).toMatchObject({ type: 'string', maxLength: 80 });
    const check = await tq(['check']);
    expect(check.code, check.output).toBe(0);
    expect(check.output.trim()).toBe('tq: the contracts match tq.contracts.json');
  });

  it('a breaking change within version 1: exit 1, one line per finding with the fix; --json the same findings', async () => {
    setTask(
      `1: { schema: Type.Object({ name: Type.String({ minLength: 1, maxLength: 40 }), locale: Type.Optional(Type.String()) }, { additionalProperties: false }) }`,
    );
    const check = await tq(['check']);
    expect(check.code).toBe(1);
    expect(check.output.trim().split('\n')).toEqual([
      'tq: breaking: greet_user v1 $.name: limit-tightened (maxLength 80 → 40): keep version 1 as released and make the change version 2',
      'tq: additive: greet_user v1 $.locale: property-added ("locale" is new and the object was closed): deploy workers before producers: a worker still on the old schema refuses it',
      'tq: 1 breaking change to the contracts released in tq.contracts.json',
    ]);
    const json = await tq(['check', '--json']);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.output.slice(0, json.output.lastIndexOf('}') + 1));
    expect(parsed).toMatchObject({ ok: false, changed: true, changeset: null });
    expect(parsed.breaking).toEqual([
      {
        task: 'greet_user',
        version: 1,
        path: '$.name',
        rule: 'limit-tightened',
        detail: 'maxLength 80 → 40',
        kind: 'breaking',
        fix: 'keep version 1 as released and make the change version 2',
      },
    ]);
    // The lock does not take a breaking change unless told to.
    const refused = await tq(['lock']);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('tq: tq.contracts.json not written: 1 breaking change to released contracts');
    expect(JSON.parse(readFileSync(lockFile(), 'utf8')).greet_user['1'].properties.name.maxLength).toBe(80);
  });

  it('the change as version 2 instead: additive, with its deploy order; the changeset rule follows the change', async () => {
    setTask(
      `${V1},\n    2: { schema: Type.Object({ name: Type.String({ minLength: 1, maxLength: 40 }), locale: Type.Optional(Type.String()) }, { additionalProperties: false }) }`,
    );
    const check = await tq(['check']);
    expect(check.code, check.output).toBe(0);
    expect(check.output.trim().split('\n')).toEqual([
      'tq: additive: greet_user v2 $: version-added (version 2 is new): deploy workers that read version 2 before producers send it',
      'tq: 1 additive change, no breaking one: deploy workers before producers',
    ]);
    // A contract change needs a changeset that bumps the package enough: patch is not, minor is.
    mkdirSync(join(project, '.changeset'), { recursive: true });
    writeFileSync(join(project, '.changeset', 'README.md'), '"greeter-project": major is not a changeset');
    writeFileSync(join(project, '.changeset', 'words.md'), '---\n"greeter-project": patch\n---\n\nWords.\n');
    const patch = await tq(['check', '--require-changeset', 'greeter-project']);
    expect(patch.code).toBe(1);
    expect(patch.output.trim().split('\n').at(-1)).toBe(
      'tq: the contracts changed since tq.contracts.json but no pending changeset bumps greeter-project enough (found only patch): add a minor (or major) changeset for greeter-project (pnpm changeset)',
    );
    writeFileSync(join(project, '.changeset', 'v2.md'), "---\n'greeter-project': minor\n---\n\nVersion 2.\n");
    expect((await tq(['check', '--require-changeset', 'greeter-project'])).code).toBe(0);
    const locked = await tq(['lock']);
    expect(locked.output.trim()).toBe('tq: tq.contracts.json: 1 task, 2 versions locked');
    expect((await tq(['check'])).output.trim()).toBe('tq: the contracts match tq.contracts.json');
  });

  it('a removed version is breaking until its messages are gone; --accept-breaking then locks it', async () => {
    setTask(
      `2: { schema: Type.Object({ name: Type.String({ minLength: 1, maxLength: 40 }), locale: Type.Optional(Type.String()) }, { additionalProperties: false }) }`,
    );
    const check = await tq(['check']);
    expect(check.code).toBe(1);
    expect(check.output).toContain(
      'tq: breaking: greet_user v1 $: version-removed (version 1 is in tq.contracts.json, not in tq.config.ts): its messages may still be in a queue or DLQ (up to 14 days): keep version 1 until tq stats --versions shows none, then run tq contracts lock --accept-breaking',
    );
    expect((await tq(['lock'])).code).toBe(1);
    const accepted = await tq(['lock', '--accept-breaking']);
    expect(accepted.code, accepted.output).toBe(0);
    expect((await tq(['check'])).code).toBe(0);
  });

  it('a bad lock: one line naming the file and the fix', async () => {
    writeFileSync(lockFile(), '{ "greet_user": { "1": ');
    const broken = await tq(['check']);
    expect(broken.code).toBe(2);
    expect(broken.output.trim()).toMatch(
      /^tq: tq\.contracts\.json is not JSON \(.+\): restore it from git, or write it again with tq contracts lock$/,
    );
    // A task the project does not define: the line names both files and what to do.
    writeFileSync(lockFile(), JSON.stringify({ greet_user: { 2: {} }, send_sms: { 1: { type: 'object' } } }));
    const unknown = await tq(['check']);
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain(
      'tq: breaking: send_sms v1 $: task-removed (the task is in tq.contracts.json, not in tq.config.ts): its messages may still be in a queue or DLQ (up to 14 days): keep the task until tq stats --versions shows none, then run tq contracts lock --accept-breaking',
    );
  });
});
