import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { classifyAwsError } from '@tq/aws';
import { ensureStatusTable } from '@tq/status';
import { describeChange } from '@tq/topology';
import type { Command } from 'commander';
import { type CliContext, createContext } from '../context.js';

/**
 * The task status table (`@tq/status`): created when missing. Resolves true when it was (or, with
 * `dryRun`, would be) created.
 */
export async function provisionStatusTable(context: CliContext, dryRun: boolean): Promise<boolean> {
  const { dynamodb, tableName } = context.status();
  if (dryRun) {
    try {
      await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
      return false;
    } catch (error) {
      if (classifyAwsError(error) === 'not-found') return true;
      throw error;
    }
  }
  return (await ensureStatusTable(dynamodb, tableName)) === 'created';
}

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
        const table = await provisionStatusTable(context, options.dryRun ?? false);
        if (table) console.log(`+ create table ${context.status().tableName}`);
        const count = changes.length + (table ? 1 : 0);
        const where = context.env.endpoint ?? `AWS ${context.env.region}`;
        if (count === 0) console.log(`tq: ${context.env.prefix} is up to date on ${where}`);
        else console.log(`tq: ${count} change(s) ${options.dryRun ? 'planned' : 'applied'} on ${where}`);
      } finally {
        context.close();
      }
    });
}
