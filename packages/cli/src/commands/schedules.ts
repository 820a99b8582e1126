import { GetScheduleCommand, type GetScheduleCommandOutput } from '@aws-sdk/client-scheduler';
import { listScheduleNames, nextRunsOfExpression, ONE_TIME_PREFIX } from '@tq/topology';
import type { Command } from 'commander';
import { createContext } from '../context.js';
import { UsageError } from '../errors.js';
import { scheduleGroup, schedulerClient } from '../schedules.js';

/** One schedule as `tq schedules` shows it. */
export interface ScheduleRow {
  name: string;
  task: string | undefined;
  expression: string;
  timezone: string;
  state: string;
  next: string[];
  description: string | undefined;
}

/** The task a schedule's target publishes (its `task` message attribute). */
function taskOf(schedule: GetScheduleCommandOutput): string | undefined {
  try {
    const input = JSON.parse(schedule.Target?.Input ?? '{}') as {
      MessageAttributes?: { task?: { StringValue?: string } };
    };
    return input.MessageAttributes?.task?.StringValue;
  } catch {
    return undefined;
  }
}

/** Rows as an aligned table. */
export function renderSchedules(rows: readonly ScheduleRow[], group: string): string {
  if (rows.length === 0) return `no schedules in group ${group}`;
  const head = ['schedule', 'task', 'expression', 'time zone', 'state', 'next runs (UTC)'];
  const cells = rows.map((row) => [
    row.name,
    row.task ?? '?',
    row.expression,
    row.timezone,
    row.state.toLowerCase(),
    row.next
      .map((iso) =>
        iso
          .replace('T', ' ')
          .replace(/:00\.000Z$/, '')
          .replace(/\.000Z$/, ''),
      )
      .join(', ') || '—',
  ]);
  const widths = head.map((title, column) =>
    Math.max(title.length, ...cells.map((cell) => (cell[column] ?? '').length)),
  );
  const line = (cell: string[]) =>
    cell
      .map((value, column) => value.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), ...cells.map(line)].join('\n');
}

/** `tq schedules`: the schedules of the group (`TQ_SCHEDULE_GROUP`, else the prefix) with their next runs. */
export function registerSchedules(program: Command): void {
  program
    .command('schedules')
    .description('list the schedules (recurring tasks, and one-time sends with --all) with their next run times')
    .option('-n, --next <count>', 'how many next runs to show', '3')
    .option('--all', 'also the one-time schedules of send(..., { at })')
    .option('--json', 'print the schedules as JSON')
    .action(async (options: { next: string; all?: boolean; json?: boolean }) => {
      const count = Number(options.next);
      if (!Number.isInteger(count) || count < 0 || count > 100) {
        throw new UsageError(`--next is "${options.next}", must be an integer from 0 to 100`);
      }
      const context = await createContext();
      const scheduler = schedulerClient(context.env);
      try {
        const group = scheduleGroup(context.env);
        const names = (await listScheduleNames(scheduler, group)).filter(
          (name) => options.all || !name.startsWith(ONE_TIME_PREFIX),
        );
        const rows: ScheduleRow[] = [];
        for (const name of names) {
          const schedule = await scheduler.send(new GetScheduleCommand({ Name: name, GroupName: group }));
          const expression = schedule.ScheduleExpression ?? '';
          const timezone = schedule.ScheduleExpressionTimezone ?? 'UTC';
          let next: string[] = [];
          if (schedule.State === 'ENABLED') {
            try {
              next = nextRunsOfExpression(expression, timezone, count, {
                ...(schedule.StartDate
                  ? { since: schedule.StartDate }
                  : schedule.CreationDate
                    ? { since: schedule.CreationDate }
                    : {}),
              }).map((date) => date.toISOString());
            } catch {
              next = [];
            }
          }
          rows.push({
            name,
            task: taskOf(schedule),
            expression,
            timezone,
            state: schedule.State ?? 'ENABLED',
            next,
            description: schedule.Description,
          });
        }
        console.log(options.json ? JSON.stringify({ group, schedules: rows }, null, 2) : renderSchedules(rows, group));
      } finally {
        scheduler.destroy();
        context.close();
      }
    });
}
