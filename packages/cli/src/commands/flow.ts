import { FlowStore, type StoredOutcome } from '@tq/status';
import type { Command } from 'commander';
import { createContext } from '../context.js';
import { cliProducer, readPayload } from './send.js';

/** What `FlowStore.read` returns: a flow with its tasks, outcomes, groups and held tasks. */
type FlowRead = NonNullable<Awaited<ReturnType<FlowStore['read']>>>;

/** One node's state as the tree shows it. */
function nodeState(outcome: StoredOutcome | undefined, held: boolean): string {
  if (outcome === undefined) return held ? 'waiting' : 'sent';
  if (outcome.ok) return 'succeeded';
  return outcome.policy === 'fail' ? `failed (${outcome.code})` : `failed (${outcome.code}, ${outcome.policy})`;
}

/**
 * A flow as lines: its state, then one line per task in path order with its state (sent,
 * waiting for what precedes it, succeeded, failed) and id, and each group's count.
 */
export function renderFlow(read: FlowRead): string {
  const { flow, tasks, outcomes, groups, held } = read;
  const lines = [`flow ${flow.id}: ${flow.state} (${flow.tasks} task${flow.tasks === 1 ? '' : 's'})`];
  if (flow.error) lines.push(`error: ${flow.error.path}: ${flow.error.code}: ${flow.error.message}`);
  const rows: { path: string; line: string }[] = tasks.map(({ path, task, id }) => ({
    path,
    line: `${task.padEnd(18)} ${nodeState(outcomes.get(path), held.has(path)).padEnd(20)} ${id}`,
  }));
  for (const [path, group] of groups) {
    const ended = group.total - group.open;
    const after = group.then ? (group.continued ? ', then started' : ', then waiting') : '';
    rows.push({
      path,
      line: `group              ${ended}/${group.total} ended${group.failed ? ', failed' : ''}${after}`,
    });
  }
  rows.sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  const width = Math.min(48, Math.max(...rows.map((row) => row.path.length)));
  for (const row of rows) lines.push(`  ${row.path.padEnd(width)}  ${row.line}`);
  return lines.join('\n');
}

/** Reads a flow for `tq status`, or undefined when the id is not a flow's. */
export function readFlow(context: Awaited<ReturnType<typeof createContext>>, id: string) {
  const { dynamodb, tableName } = context.status();
  return new FlowStore({ dynamodb, tableName }).read(id);
}

/** `tq flow send <file.json | - | json>`: checks a flow whole and starts it. */
export function registerFlow(program: Command): void {
  const flow = program.command('flow').description('flows: chains, groups and chords of tasks');
  flow
    .command('send')
    .description('check a flow (JSON: task, chain, group + then) whole and start it; prints its id')
    .argument('<flow>', 'the flow: a JSON file (flow.json or @flow.json), JSON text, or - for stdin')
    .addHelpText(
      'after',
      '\nExample:\n  tq flow send \'{"chain":[{"task":"cleanup_data","payload":{...}},{"task":"generate_report","payload":{...}}]}\'\n  tq status <flow id>   # the tree, with each task\'s state',
    )
    .action(async (argument: string) => {
      // A path as it is (`tq flow send flow.json`): what is not JSON text, stdin or @file is a file.
      const spec = await readPayload(
        /^\s*[{[]/.test(argument) || argument === '-' || argument.startsWith('@') ? argument : `@${argument}`,
      );
      const context = await createContext();
      const producer = cliProducer(context);
      try {
        const started = await producer.flow(spec as never);
        console.log(started.id);
        console.error(
          `tq: started flow ${started.id} (${started.tasks.length} tasks); see it with tq status ${started.id}`,
        );
      } finally {
        await producer.close();
        context.close();
      }
    });
}

/** `tq cancel <id>`: cancels a task or a whole flow, from anywhere. */
export function registerCancel(program: Command): void {
  program
    .command('cancel')
    .description('cancel a task or a whole flow by id: queued messages are not run, running handlers are aborted')
    .argument('<id>', 'a task id (what tq send printed) or a flow id (tq flow send)')
    .option('--reason <text>', 'why, shown by tq status')
    .action(async (id: string, options: { reason?: string }) => {
      const context = await createContext();
      const producer = cliProducer(context);
      try {
        const request = await producer.cancel(id, options.reason === undefined ? {} : { reason: options.reason });
        if (request.ended !== undefined) {
          console.log(
            `tq: flow ${id} had already ${request.ended === 'cancelled' ? 'been cancelled' : request.ended}: nothing to cancel`,
          );
          return;
        }
        console.log(
          `tq: cancelled ${request.kind} ${id}: workers with status on settle its messages without running them, and abort a running handler within their heartbeat interval`,
        );
      } finally {
        await producer.close();
        context.close();
      }
    });
}
