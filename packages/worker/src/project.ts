import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isTqConfig, type TqConfig, type WorkerApp } from '@tq/contracts';

// A project's tq.config.ts as every program of tq reads it: the CLI, `tq up`, the relay, the bridge.

/** The names `tq.config.*` may have, in the order they are looked for in each folder. */
export const CONFIG_FILE_NAMES = ['tq.config.ts', 'tq.config.mts', 'tq.config.js', 'tq.config.mjs'] as const;

/** A project's configuration as loaded from its file. */
export interface Project {
  /** The config file's absolute path. */
  readonly file: string;
  /** The project's root: the folder of the config file. */
  readonly root: string;
  readonly config: TqConfig;
  /** The absolute path of a worker app's program. */
  mainOf(app: WorkerApp): string;
}

/** The project's configuration cannot be found or loaded: one line naming the file and the fix. */
export class ProjectConfigError extends Error {
  override readonly name: string = 'ProjectConfigError';
}

/** The first `tq.config.*` in `from` or a folder above it. */
export function findConfigFile(from: string = process.cwd()): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    for (const name of CONFIG_FILE_NAMES) {
      const file = join(dir, name);
      if (existsSync(file)) return file;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

const loaded = new Map<string, Promise<Project>>();

/**
 * Loads the project's configuration: `file`, else `TQ_CONFIG`, else the first `tq.config.ts` (or
 * `.mts`, `.js`, `.mjs`) from `cwd` upward. TypeScript loads as it is, through tsx (a dependency of
 * the project or of `@tq/cli`); JavaScript needs nothing. Throws `ProjectConfigError` when there is
 * none, when it does not load, or when it is not a `defineConfig(...)` (its checks name the fix).
 */
export function loadProject(
  options: { file?: string | undefined; cwd?: string; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<Project> {
  const cwd = options.cwd ?? process.cwd();
  const given = options.file ?? ((options.env ?? process.env).TQ_CONFIG || undefined);
  const file = given === undefined ? findConfigFile(cwd) : isAbsolute(given) ? given : resolve(cwd, given);
  if (file === undefined) {
    return Promise.reject(
      new ProjectConfigError(
        `no tq.config.ts in ${cwd} or a folder above it: run \`tq init <dir>\` to make a project, or give one with --config (or TQ_CONFIG)`,
      ),
    );
  }
  let project = loaded.get(file);
  if (!project) {
    project = importProject(file, cwd);
    loaded.set(file, project);
  }
  return project;
}

async function importModule(file: string): Promise<{ default?: unknown }> {
  const url = pathToFileURL(file).href;
  if (!/\.[mc]?tsx?$/.test(file)) return (await import(url)) as { default?: unknown };
  let tsx: typeof import('tsx/esm/api');
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    throw new ProjectConfigError(
      'loading TypeScript needs tsx: npm install tsx (or compile the config to tq.config.js)',
    );
  }
  return (await tsx.tsImport(url, import.meta.url)) as { default?: unknown };
}

async function importProject(file: string, cwd: string): Promise<Project> {
  const shown = relative(cwd, file) || file;
  if (!existsSync(file)) throw new ProjectConfigError(`${shown} does not exist: check --config or TQ_CONFIG`);
  let module: { default?: unknown };
  try {
    module = await importModule(file);
  } catch (error) {
    if (error instanceof ProjectConfigError) throw new ProjectConfigError(`${shown}: ${error.message}`);
    const message = (error as Error).message?.split('\n')[0] ?? String(error);
    const name = (error as Error).name;
    // A check of defineConfig/defineTask: the message names the problem and its fix.
    const fix = name === 'TaskDefinitionError' ? '' : ' (fix the error, or the import it names)';
    throw new ProjectConfigError(`${shown}: ${message}${fix}`, { cause: error });
  }
  // tsx hands a CommonJS-shaped default through once more when the file is compiled as CJS.
  const exported =
    isTqConfig(module.default) || module.default === undefined
      ? module.default
      : (module.default as { default?: unknown }).default;
  if (!isTqConfig(exported)) {
    throw new ProjectConfigError(
      `${shown} does not export a configuration: its default export must be defineConfig({ tasks, workers }) from @tq/contracts`,
    );
  }
  const root = dirname(file);
  return { file, root, config: exported, mainOf: (app) => resolve(root, app.main) };
}
