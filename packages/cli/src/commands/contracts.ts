import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  CONTRACTS_LOCK_FILE,
  type ContractsCheck,
  ContractsLockError,
  checkContracts,
  contractsLock,
  describeContractsCheck,
  parseContractsLock,
  renderContractsLock,
  type TaskRegistry,
} from '@tq/contracts';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { loadProject } from '../project.js';

/**
 * `tq contracts lock` writes `tq.contracts.json` beside the project's config: every task version's
 * payload schema as released. `tq contracts check` compares the config's tasks with it and exits 1
 * on a breaking change within a version (or a version removed), printing one line per finding.
 */
export function registerContracts(program: Command): void {
  const contracts = program
    .command('contracts')
    .description('the released task schemas (tq.contracts.json) and the check that a change keeps them');
  contracts
    .command('lock')
    .description(`write ${CONTRACTS_LOCK_FILE}: every task version's payload schema as it is now (commit it)`)
    .option('--accept-breaking', 'write it even over breaking changes (once no message of the old schema is left)')
    .action(async (options: { acceptBreaking?: boolean }) => {
      const { registry, lockFile, label, configName } = await projectLock();
      const previous = await readLock(lockFile, label, { missingOk: true });
      if (previous) {
        const check = checkContracts(registry, previous, { lock: label, registry: configName });
        if (check.breaking.length > 0 && !options.acceptBreaking) {
          for (const line of describeContractsCheck(check, label).slice(0, -1)) console.error(`tq: ${line}`);
          throw new Error(
            `${label} not written: ${count(check.breaking.length, 'breaking change')} to released contracts; --accept-breaking writes it anyway, once no queue or DLQ holds a message of the old schema`,
          );
        }
      }
      const lock = contractsLock(registry);
      await writeFile(lockFile, renderContractsLock(lock));
      const versions = Object.values(lock).reduce((sum, task) => sum + Object.keys(task).length, 0);
      console.log(`tq: ${label}: ${count(Object.keys(lock).length, 'task')}, ${count(versions, 'version')} locked`);
    });
  contracts
    .command('check')
    .description(`compare the tasks with ${CONTRACTS_LOCK_FILE}: exit 1 on a breaking change within a version`)
    .option('--json', 'print the findings as JSON')
    .option(
      '--require-changeset <package>',
      'also fail when the schemas differ from the lock and no pending changeset (.changeset/*.md) bumps <package>',
    )
    .action(async (options: { json?: boolean; requireChangeset?: string }) => {
      const { registry, lockFile, label, root, configName } = await projectLock();
      const lock = (await readLock(lockFile, label, { missingOk: false })) as NonNullable<
        Awaited<ReturnType<typeof readLock>>
      >;
      const check = checkContracts(registry, lock, { lock: label, registry: configName });
      const changeset = options.requireChangeset
        ? await changesetProblem(root, options.requireChangeset, check)
        : undefined;
      const lines = describeContractsCheck(check, label);
      if (options.json) {
        const ok = check.breaking.length === 0 && !changeset;
        console.log(JSON.stringify({ lock: lockFile, ok, ...check, changeset: changeset ?? null }, null, 2));
      } else for (const line of check.breaking.length > 0 ? lines.slice(0, -1) : lines) console.log(`tq: ${line}`);
      // The summary of a failed check is the error line.
      if (check.breaking.length > 0) throw new Error(lines.at(-1));
      if (changeset) throw new Error(changeset);
    });
}

interface ProjectLock {
  registry: TaskRegistry;
  lockFile: string;
  /** The lock's path as the user sees it (relative to the working directory). */
  label: string;
  root: string;
  configName: string;
}

async function projectLock(): Promise<ProjectLock> {
  const project = await loadProject();
  const lockFile = join(project.root, CONTRACTS_LOCK_FILE);
  const shown = (file: string) => relative(process.cwd(), file) || file;
  return {
    registry: project.config.registry,
    lockFile,
    label: shown(lockFile),
    root: project.root,
    configName: shown(project.file),
  };
}

async function readLock(file: string, label: string, options: { missingOk: boolean }) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (options.missingOk) return undefined;
    throw new UsageError(
      `no ${label}: write it with tq contracts lock (and commit it) when these contracts are released`,
    );
  }
  try {
    return parseContractsLock(text, label);
  } catch (error) {
    if (error instanceof ContractsLockError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Why the pending changesets do not cover a contract change, or undefined: a schema change needs a
 * changeset that bumps `pkg` (minor or major when a payload may now carry more), an annotation-only
 * change any bump.
 */
async function changesetProblem(root: string, pkg: string, check: ContractsCheck): Promise<string | undefined> {
  if (!check.changed) return undefined;
  const bumps = await pendingBumps(join(root, '.changeset'), pkg);
  const needsMinor = check.additive.length > 0 || check.breaking.length > 0;
  if (bumps.some((bump) => !needsMinor || bump === 'minor' || bump === 'major')) return undefined;
  const what = needsMinor ? `a minor (or major) changeset for ${pkg}` : `a changeset for ${pkg}`;
  const found = bumps.length > 0 ? ` (found only ${bumps.join(', ')})` : '';
  return `the contracts changed since ${CONTRACTS_LOCK_FILE} but no pending changeset bumps ${pkg} enough${found}: add ${what} (pnpm changeset)`;
}

/** The bumps of `pkg` in the frontmatter of the pending changesets in `dir`. */
async function pendingBumps(dir: string, pkg: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.md') && name.toLowerCase() !== 'readme.md');
  } catch {
    return [];
  }
  const bumps: string[] = [];
  for (const name of names) {
    const text = await readFile(join(dir, name), 'utf8');
    const front = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text)?.[1] ?? '';
    for (const line of front.split(/\r?\n/)) {
      const match = /^\s*["']?([^"':]+)["']?\s*:\s*(patch|minor|major)\s*$/.exec(line);
      if (match?.[1] === pkg && match[2]) bumps.push(match[2]);
    }
  }
  return bumps;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
