import { describeChange } from '@tq/topology';
import type { Command } from 'commander';
import { createContext } from '../context.js';

/**
 * `tq provision`: converge the topic, queues, DLQs, subscriptions and bucket of `TQ_PREFIX` with
 * the task registry. Idempotent; `--dry-run` only prints the plan; `--prune` also deletes queues
 * and subscriptions with the prefix that the registry no longer names.
 */
export function registerProvision(program: Command): void {
  program
    .command('provision')
    .description('create or update the topic, task queues, DLQs, subscriptions and bucket (idempotent)')
    .option('--dry-run', 'print the changes without making them')
    .option('--prune', 'also delete queues and subscriptions with the prefix that are not wanted')
    .action(async (options: { dryRun?: boolean; prune?: boolean }) => {
      const context = createContext();
      try {
        const provisioner = context.provisioner();
        const reconcile = { prune: options.prune ?? false };
        const changes = options.dryRun ? await provisioner.plan(reconcile) : await provisioner.apply(reconcile);
        for (const change of changes) console.log(describeChange(change));
        const where = context.env.endpoint ?? `AWS ${context.env.region}`;
        if (changes.length === 0) console.log(`tq: ${context.env.prefix} is up to date on ${where}`);
        else console.log(`tq: ${changes.length} change(s) ${options.dryRun ? 'planned' : 'applied'} on ${where}`);
      } finally {
        context.close();
      }
    });
}
