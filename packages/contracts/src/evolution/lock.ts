import type { TaskRegistry } from '../registry.js';
import { type NarrowingRule, narrowings, type WideningRule, widenings } from './compare.js';
import { canonical } from './keywords.js';

/** The lock's file name, beside the project's `tq.config.ts`. */
export const CONTRACTS_LOCK_FILE = 'tq.contracts.json';

/** What was released: for every task and version, its payload's JSON Schema. */
export type ContractsLock = Record<string, Record<string, Record<string, unknown>>>;

/** The lock cannot be read: one line naming the file and the fix. */
export class ContractsLockError extends Error {
  override readonly name = 'ContractsLockError';
}

/** The lock of what `registry` defines now: every task's versions, payload schemas as plain JSON. */
export function contractsLock(registry: TaskRegistry): ContractsLock {
  const lock: ContractsLock = {};
  for (const name of [...registry.names()].sort()) {
    const definition = registry.get(name);
    if (!definition) continue;
    const versions: Record<string, Record<string, unknown>> = {};
    for (const number of Object.keys(definition.versions).sort((a, b) => Number(a) - Number(b))) {
      // A JSON round trip drops TypeBox's symbol keys and leaves plain JSON Schema.
      versions[number] = JSON.parse(JSON.stringify(definition.versions[Number(number)]?.schema));
    }
    lock[name] = versions;
  }
  return lock;
}

/** The lock's text: two-space JSON with a trailing newline, keys as `contractsLock` orders them. */
export function renderContractsLock(lock: ContractsLock): string {
  return `${JSON.stringify(lock, null, 2)}\n`;
}

/** Parses a lock's text; `file` names it in the one-line errors. */
export function parseContractsLock(text: string, file: string = CONTRACTS_LOCK_FILE): ContractsLock {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ContractsLockError(
      `${file} is not JSON (${(error as Error).message}): restore it from git, or write it again with tq contracts lock`,
    );
  }
  const fix =
    'it maps each task to its versions\' payload schemas ({ "<task>": { "<version>": { …JSON Schema } } }); restore it from git, or write it again with tq contracts lock';
  if (!isObject(parsed)) throw new ContractsLockError(`${file} is not a JSON object: ${fix}`);
  for (const [task, versions] of Object.entries(parsed)) {
    if (!isObject(versions)) throw new ContractsLockError(`${file}: "${task}" is not an object of versions: ${fix}`);
    for (const [version, schema] of Object.entries(versions)) {
      if (!/^[1-9]\d*$/.test(version)) {
        throw new ContractsLockError(`${file}: "${task}" has version "${version}", not a positive integer: ${fix}`);
      }
      if (!isObject(schema) && typeof schema !== 'boolean') {
        throw new ContractsLockError(`${file}: ${task} version ${version} is not a JSON Schema: ${fix}`);
      }
    }
  }
  return parsed as ContractsLock;
}

/** The rules of a finding: narrowing rules, their additive mirror images, and whole tasks and versions. */
export type ContractRule =
  | NarrowingRule
  | WideningRule
  | 'version-removed'
  | 'task-removed'
  | 'version-added'
  | 'task-added';

/** One difference between the lock and the registry. */
export interface ContractFinding {
  readonly task: string;
  readonly version: number;
  /** Where in the payload (JSONPath); `$` for a whole version or task. */
  readonly path: string;
  readonly rule: ContractRule;
  readonly detail: string;
  /** Breaking: messages in queues, DLQs or from deployed producers may fail. Additive: needs a deploy order. */
  readonly kind: 'breaking' | 'additive';
  /** What to do. */
  readonly fix: string;
}

/** What `checkContracts` found. */
export interface ContractsCheck {
  readonly breaking: ContractFinding[];
  readonly additive: ContractFinding[];
  /** Whether the registry's schemas differ from the lock at all (annotations included). */
  readonly changed: boolean;
}

const WORKERS_FIRST = 'deploy workers before producers: a worker still on the old schema refuses it';

/**
 * Compares the registry with the lock. Breaking: within a released version, the schema now refuses
 * a payload it accepted (messages already in queues and DLQs, and producers still deployed, send
 * those), or a released version or task is gone. Additive: the schema accepts more (or a version or
 * task is new), which is safe once the workers that read it are deployed before the producers.
 */
export function checkContracts(
  registry: TaskRegistry,
  lock: ContractsLock,
  names: { lock?: string; registry?: string } = {},
): ContractsCheck {
  const lockName = names.lock ?? 'the lock';
  const registryName = names.registry ?? 'the registry';
  const current = contractsLock(registry);
  const breaking: ContractFinding[] = [];
  const additive: ContractFinding[] = [];
  for (const [task, versions] of Object.entries(lock)) {
    const now = current[task];
    const latest = Math.max(...Object.keys(now ?? versions).map(Number));
    for (const [number, released] of Object.entries(versions)) {
      const version = Number(number);
      const schema = now?.[number];
      if (schema === undefined) {
        breaking.push({
          task,
          version,
          path: '$',
          rule: now ? 'version-removed' : 'task-removed',
          detail: now
            ? `version ${version} is in ${lockName}, not in ${registryName}`
            : `the task is in ${lockName}, not in ${registryName}`,
          kind: 'breaking',
          fix: `its messages may still be in a queue or DLQ (up to 14 days): keep ${now ? `version ${version}` : 'the task'} until tq stats --versions shows none, then run tq contracts lock --accept-breaking`,
        });
        continue;
      }
      const fix = `keep version ${version} as released and make the change version ${latest + 1}`;
      for (const found of narrowings(released, schema)) breaking.push(finding(task, version, found, 'breaking', fix));
      const seen = new Set(breaking.filter((item) => item.task === task && item.version === version).map(key));
      for (const found of widenings(released, schema)) {
        const item = finding(task, version, found, 'additive', WORKERS_FIRST);
        if (!seen.has(key(item))) additive.push(item);
      }
    }
  }
  for (const [task, versions] of Object.entries(current)) {
    for (const number of Object.keys(versions)) {
      if (lock[task]?.[number] !== undefined) continue;
      const added = lock[task] ? 'version-added' : 'task-added';
      additive.push({
        task,
        version: Number(number),
        path: '$',
        rule: added,
        detail: added === 'task-added' ? 'a new task' : `version ${number} is new`,
        kind: 'additive',
        fix:
          added === 'task-added'
            ? 'provision its queue and deploy its worker before producers send it'
            : `deploy workers that read version ${number} before producers send it`,
      });
    }
  }
  return { breaking, additive, changed: canonical(current) !== canonical(lock) };
}

/**
 * What `tq contracts check` prints: a line per finding (`breaking:` or `additive:`), then a summary
 * of the outcome (the deploy order for additive changes). `lockName` names the lock in the summary.
 */
export function describeContractsCheck(check: ContractsCheck, lockName: string = CONTRACTS_LOCK_FILE): string[] {
  const lines = [
    ...check.breaking.map((finding) => `breaking: ${formatFinding(finding)}`),
    ...check.additive.map((finding) => `additive: ${formatFinding(finding)}`),
  ];
  if (check.breaking.length > 0) {
    lines.push(`${count(check.breaking.length, 'breaking change')} to the contracts released in ${lockName}`);
  } else if (check.additive.length > 0) {
    const order = check.additive.some((finding) => finding.rule === 'task-added')
      ? 'provision and deploy the new workers, then the producers'
      : 'deploy workers before producers';
    lines.push(`${count(check.additive.length, 'additive change')}, no breaking one: ${order}`);
  } else if (check.changed) {
    lines.push(`the contracts match ${lockName} but for annotations (descriptions, titles, examples)`);
  } else lines.push(`the contracts match ${lockName}`);
  return lines;
}

/** `1 change`, `2 changes`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** One line of a finding: task, version, path, rule, what changed and the fix. */
export function formatFinding(item: ContractFinding): string {
  return `${item.task} v${item.version} ${item.path}: ${item.rule} (${item.detail}): ${item.fix}`;
}

function finding(
  task: string,
  version: number,
  found: { path: string; rule: ContractRule; detail: string },
  kind: ContractFinding['kind'],
  fix: string,
): ContractFinding {
  return { task, version, path: found.path, rule: found.rule, detail: found.detail, kind, fix };
}

function key(item: { path: string; rule: string }): string {
  return `${item.path} ${item.rule}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
