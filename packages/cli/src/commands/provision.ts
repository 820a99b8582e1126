import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { classifyAwsError } from '@tq/aws';
import { ensureIdempotencyTable, ensureStatusTable, idempotencyTableName } from '@tq/status';
import { describeChange } from '@tq/topology';
import type { Command } from 'commander';
import { type CliContext, createContext } from '../context.js';
import { convergeSchedules, loadSchedules, schedulesFile } from '../schedules.js';
import { probeStateServices, servicesOffLine } from '../services.js';

/** The idempotency table's name: `TQ_IDEMPOTENCY_TABLE`, else `<prefix>-idempotency`. */
export function idempotencyTable(context: CliContext): string {
  return process.env.TQ_IDEMPOTENCY_TABLE || idempotencyTableName(context.env.prefix);
}

/**
 * The tables of the state outside the queues (`@tq/status`): task status and idempotency records,
 * each created when missing. Resolves with the names of those it created (or, with `dryRun`,
 * would create).
 */
export async function provisionStateTables(context: CliContext, dryRun: boolean): Promise<string[]> {
  const { dynamodb, tableName } = context.status();
  const tables = [
    { name: tableName, ensure: ensureStatusTable },
    { name: idempotencyTable(context), ensure: ensureIdempotencyTable },
  ];
  const created: string[] = [];
  for (const table of tables) {
    if (dryRun) {
      try {
        await dynamodb.send(new DescribeTableCommand({ TableName: table.name }));
      } catch (error) {
        if (classifyAwsError(error) !== 'not-found') throw error;
        created.push(table.name);
      }
    } else if ((await table.ensure(dynamodb, table.name)) === 'created') created.push(table.name);
  }
  return created;
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
    .option('--prune', 'also delete queues, subscriptions and schedules with the prefix that are not wanted')
    .option(
      '--schedules <file>',
      `schedules to converge with EventBridge Scheduler (default: TQ_SCHEDULES, else ./tq.schedules.json when present)`,
    )
    .action(async (options: { dryRun?: boolean; prune?: boolean; schedules?: string }) => {
      const file = schedulesFile(options.schedules);
      // Checked before anything changes: a bad schedule stops the whole run.
      const context = await createContext();
      const schedules = file ? await loadSchedules(file, context.registry) : undefined;
      try {
        const provisioner = context.provisioner();
        const reconcile = { prune: options.prune ?? false };
        const changes = options.dryRun ? await provisioner.plan(reconcile) : await provisioner.apply(reconcile);
        for (const change of changes) console.log(describeChange(change));
        const services = await probeStateServices(context);
        const tables =
          services.dynamodb === 'missing' ? [] : await provisionStateTables(context, options.dryRun ?? false);
        for (const table of tables) console.log(`+ create table ${table}`);
        let scheduled = 0;
        if (schedules && services.scheduler !== 'missing') {
          const { group, changes: made } = await convergeSchedules(context.env, context.sns, schedules, {
            prune: options.prune ?? false,
            dryRun: options.dryRun ?? false,
          });
          const sign = { create: '+', 'create-group': '+', update: '~', delete: '-' } as const;
          for (const change of made) {
            const what = change.action === 'create-group' ? 'schedule group' : 'schedule';
            const verb = change.action === 'create-group' ? 'create' : change.action;
            const name = change.action === 'create-group' ? change.name : `${group}/${change.name}`;
            console.log(`${sign[change.action]} ${verb} ${what} ${name}`);
          }
          scheduled = made.length;
        }
        const count = changes.length + tables.length + scheduled;
        const where = context.env.endpoint ?? `AWS ${context.env.region}`;
        if (count === 0) console.log(`tq: ${context.env.prefix} is up to date on ${where}`);
        else console.log(`tq: ${count} change(s) ${options.dryRun ? 'planned' : 'applied'} on ${where}`);
        const off = servicesOffLine(context.env, services);
        if (off !== undefined) console.log(`tq: ${off}`);
      } finally {
        context.close();
      }
    });
}
