import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { jsonSchemas, renderJsonSchema } from '@tq/contracts';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { loadProject } from '../project.js';
import { checkTask } from '../queues.js';

/**
 * `tq schema <task> [--version N]`: prints the JSON Schema of a task's envelope. `tq schema --out
 * <dir>`: writes every task version's schema of the project (`<task>.v<N>.json`), for producers
 * and workers in other languages, removing files of versions the project no longer has.
 */
export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema (2020-12) of a task envelope, payload inlined; --out writes all of them')
    .argument('[task]', "task type (one of the project's, from tq.config.ts)")
    .option('--version <n>', 'payload version (default: the latest)')
    .option('--out <dir>', "write every task version's schema into <dir> as <task>.v<N>.json")
    .action(async (task: string | undefined, options: { version?: string; out?: string }) => {
      const { registry } = (await loadProject()).config;
      if (options.out !== undefined) {
        if (task !== undefined || options.version !== undefined) {
          throw new UsageError('--out writes every task version: give no task and no --version with it');
        }
        const dir = resolve(options.out);
        await mkdir(dir, { recursive: true });
        const files = jsonSchemas(registry);
        const wanted = new Set(files.map((file) => file.fileName));
        for (const existing of await readdir(dir)) {
          // Only what this command writes: <task>.v<N>.json of a task name.
          if (/^[a-z][a-z0-9_]*\.v\d+\.json$/.test(existing) && !wanted.has(existing)) await rm(join(dir, existing));
        }
        for (const file of files) await writeFile(join(dir, file.fileName), renderJsonSchema(file));
        console.log(`tq: ${files.length} schema files in ${relative(process.cwd(), dir) || '.'}`);
        return;
      }
      if (task === undefined)
        throw new UsageError('name a task (tq schema <task>), or write them all with --out <dir>');
      checkTask(registry, task);
      const definition = registry.get(task) as NonNullable<ReturnType<typeof registry.get>>;
      const version = options.version === undefined ? definition.latestVersion : Number(options.version);
      const file = jsonSchemas(registry).find((candidate) => candidate.task === task && candidate.version === version);
      if (!file) {
        throw new UsageError(
          `task "${task}" has no version ${options.version} (supported: ${Object.keys(definition.versions).join(', ')})`,
        );
      }
      process.stdout.write(renderJsonSchema(file));
    });
}
