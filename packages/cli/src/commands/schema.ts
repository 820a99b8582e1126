import { jsonSchemas, renderJsonSchema } from '@tq/contracts';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { loadProject } from '../project.js';
import { checkTask } from '../queues.js';

/** `tq schema <task> [--version N]`: prints the JSON Schema of a task's envelope. */
export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema (2020-12) of a task envelope, payload inlined')
    .argument('<task>', "task type (one of the project's, from tq.config.ts)")
    .option('--version <n>', 'payload version (default: the latest)')
    .action(async (task: string, options: { version?: string }) => {
      const { registry } = (await loadProject()).config;
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
