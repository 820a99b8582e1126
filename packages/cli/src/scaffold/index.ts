import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { Project } from '../project.js';
import { type TaskNames, taskNames } from './names.js';
import { initialLock, projectFiles, type ScaffoldFile, taskFiles } from './templates.js';

export { type TaskNames, taskNames } from './names.js';

/** Writes files under `root`, refusing to replace any that exists. Resolves with their paths. */
async function writeNew(root: string, files: ScaffoldFile[]): Promise<string[]> {
  for (const file of files) {
    if (existsSync(join(root, file.path))) {
      throw new UsageError(
        `${join(relative(process.cwd(), root) || '.', file.path)} exists already: nothing was written`,
      );
    }
  }
  for (const file of files) {
    await mkdir(dirname(join(root, file.path)), { recursive: true });
    await writeFile(join(root, file.path), file.content);
  }
  return files.map((file) => file.path);
}

/**
 * `tq init <dir>`: a new project in an empty (or new) folder: package.json depending on the @tq
 * packages at `version`, tq.config.ts, one task with its worker and test, tsconfig, README,
 * .gitignore. Resolves with the files written.
 */
export async function initProject(dir: string, options: { task: string; version: string }): Promise<string[]> {
  const first = taskNames(options.task);
  const root = resolve(dir);
  if (existsSync(root) && (await readdir(root)).length > 0) {
    throw new UsageError(`${dir} is not empty: tq init makes a project in a new or empty folder`);
  }
  const name =
    basename(root)
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'tq-project';
  return writeNew(root, [
    ...projectFiles({ name, first, version: options.version }),
    ...taskFiles(first),
    initialLock(first),
  ]);
}

/**
 * `tq add task <name>`: the task's definition and its worker's folder (handler, program, test),
 * registered in the project's tq.config.ts (an import, the task in `tasks`, its app in
 * `workers`). Resolves with the files written or changed.
 */
export async function addTask(project: Project, task: string): Promise<string[]> {
  const names = taskNames(task);
  if (project.config.registry.has(task)) throw new UsageError(`task "${task}" is defined already in ${project.file}`);
  const source = await readFile(project.file, 'utf8');
  const updated = registerTask(source, names, relative(project.root, project.file));
  const written = await writeNew(project.root, taskFiles(names));
  await writeFile(project.file, updated);
  return [relative(project.root, project.file), ...written];
}

/**
 * The config's source with the task registered: its import after the last import, its definition
 * at the end of `tasks: [...]`, its app at the end of `workers: {...}`. Throws `UsageError` with
 * the lines to add by hand when the file is not shaped so.
 */
export function registerTask(source: string, names: TaskNames, file: string): string {
  const importLine = `import { ${names.identifier} } from './tasks/${names.file}.js';`;
  const appLine = `'${names.app}': { task: '${names.task}', main: 'workers/${names.file}/main.ts' },`;
  const byHand = () =>
    new UsageError(
      `${file} does not have the shape tq add task edits (tasks: [...] and workers: { ... } in defineConfig): add by hand ${importLine}, ${names.identifier} to tasks and ${appLine} to workers`,
    );
  const lines = source.split('\n');
  const lastImport = lines.findLastIndex((line) => /^import\s.+from\s+['"].+['"];?\s*$/.test(line));
  if (lastImport === -1) throw byHand();
  lines.splice(lastImport + 1, 0, importLine);
  let text = lines.join('\n');
  const tasks = /tasks:\s*\[([^\]]*)\]/.exec(text);
  if (!tasks) throw byHand();
  const listed = (tasks[1] ?? '').trim().replace(/,\s*$/, '');
  text = text.replace(tasks[0], `tasks: [${listed === '' ? '' : `${listed}, `}${names.identifier}]`);
  // The block's end: the first closing brace indented as the `workers:` line (entries may span lines).
  const workers = /^([ \t]*)workers:\s*\{\n([\s\S]*?)\n\1\}(,?)[ \t]*$/m.exec(text);
  if (!workers) throw byHand();
  const indent = workers[1] ?? '';
  const entryIndent = /^(\s*)\S/m.exec(workers[2] ?? '')?.[1] ?? `${indent}  `;
  const body = (workers[2] ?? '').replace(/\s*$/, '');
  const replaced = `${indent}workers: {\n${body === '' ? '' : `${body}\n`}${entryIndent}${appLine}\n${indent}}${workers[3]}`;
  return text.replace(workers[0], replaced);
}
