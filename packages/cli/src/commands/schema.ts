import { jsonSchemas, registry, renderJsonSchema } from '@tq/contracts';
import type { Command } from 'commander';

/** `tq schema <task> [--version N]`: prints the JSON Schema of a task's envelope. */
export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema (2020-12) of a task envelope, payload inlined')
    .argument('<task>', `task type: ${registry.names().join(', ')}`)
    .option('--version <n>', 'payload version (default: the latest)')
    .action((task: string, options: { version?: string }) => {
      const definition = registry.get(task);
      if (!definition) throw new Error(`unknown task "${task}" (known: ${registry.names().join(', ')})`);
      const version = options.version === undefined ? definition.latestVersion : Number(options.version);
      const file = jsonSchemas().find((candidate) => candidate.task === task && candidate.version === version);
      if (!file) {
        throw new Error(
          `task "${task}" has no version ${options.version} (supported: ${Object.keys(definition.versions).join(', ')})`,
        );
      }
      process.stdout.write(renderJsonSchema(file));
    });
}
