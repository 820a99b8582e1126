import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { loadProject } from '../project.js';
import { addTask, initProject } from '../scaffold/index.js';

/** This CLI's version: a new project depends on the @tq packages at it. */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
    .version;
}

/** `tq init <dir>` and `tq add task <name>`: a project of one's own, and a task type more in it. */
export function registerInit(program: Command): void {
  program
    .command('init')
    .description(
      'make a project in a new folder: tq.config.ts, one task with its worker and test, package.json, README',
    )
    .argument('<dir>', 'the folder (new or empty)')
    .option('--task <name>', 'the first task type (snake_case)', 'echo')
    .action(async (dir: string, options: { task: string }) => {
      const files = await initProject(dir, { task: options.task, version: version() });
      for (const file of files) console.log(`+ ${file}`);
      const shown = relative(process.cwd(), dir) || '.';
      console.log(`tq: project in ${shown}: cd ${shown} && npm install && npm test, then npm run up`);
    });

  program
    .command('add')
    .description('add to the project (tq.config.ts from here upward)')
    .command('task')
    .description(
      "add a task type: its definition, its worker's folder (handler, program, test), registered in tq.config.ts",
    )
    .argument('<name>', 'the task type (snake_case), e.g. send_invoice')
    .action(async (name: string) => {
      const project = await loadProject();
      const files = await addTask(project, name);
      for (const [index, file] of files.entries()) console.log(`${index === 0 ? '~' : '+'} ${file}`);
    });
}
