import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { awsClientSettings, registry } from '@tq/contracts';
import type { Command } from 'commander';
import { type CliContext, createContext } from '../context.js';
import { UsageError } from '../errors.js';
import { findTaskQueues } from '../queues.js';

/** Counts of one queue. `oldestSeconds` is undefined where the endpoint serves no CloudWatch metrics. */
export interface QueueStats {
  name: string;
  visible: number;
  inFlight: number;
  delayed: number;
  oldestSeconds: number | undefined;
}

/** One row of `tq stats`: a task queue and its dead-letter queue. */
export interface TaskStats {
  task: string;
  queue: QueueStats;
  dlq: QueueStats;
}

async function counts(context: CliContext, url: string, oldest: (name: string) => Promise<number | undefined>) {
  const out = await context.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const a = out.Attributes ?? {};
  const name = url.split('/').at(-1) ?? url;
  return {
    name,
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
    oldestSeconds: await oldest(name),
  };
}

/**
 * The age of a queue's oldest message exists only as the CloudWatch metric
 * `ApproximateAgeOfOldestMessage` (reading messages to find out would count as receives and
 * push them towards the DLQ). Endpoints without CloudWatch (the local one) report nothing.
 */
function oldestAge(context: CliContext) {
  const cloudwatch = new CloudWatchClient({ ...awsClientSettings(context.env), maxAttempts: 1 });
  let available = true;
  const lookup = async (name: string): Promise<number | undefined> => {
    if (!available) return undefined;
    try {
      const now = Date.now();
      const out = await cloudwatch.send(
        new GetMetricStatisticsCommand({
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateAgeOfOldestMessage',
          Dimensions: [{ Name: 'QueueName', Value: name }],
          StartTime: new Date(now - 10 * 60_000),
          EndTime: new Date(now),
          Period: 60,
          Statistics: ['Maximum'],
        }),
      );
      const latest = (out.Datapoints ?? []).sort(
        (a, b) => (b.Timestamp?.getTime() ?? 0) - (a.Timestamp?.getTime() ?? 0),
      )[0];
      return latest?.Maximum;
    } catch {
      available = false;
      return undefined;
    }
  };
  return { lookup, available: () => available, close: () => cloudwatch.destroy() };
}

/** Collects the stats of every registered task that has a queue. */
export async function collectStats(context: CliContext, oldest = oldestAge(context)): Promise<TaskStats[]> {
  const rows: TaskStats[] = [];
  for (const task of registry.names()) {
    const queues = await findTaskQueues(context, task);
    const [queue, dlq] = await Promise.all([
      counts(context, queues.queueUrl, oldest.lookup),
      counts(context, queues.dlqUrl, oldest.lookup),
    ]);
    rows.push({ task, queue, dlq });
  }
  return rows;
}

function age(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

/** Renders the stats as an aligned text table. */
export function renderStats(rows: TaskStats[]): string {
  const header = ['task', 'visible', 'in flight', 'delayed', 'oldest', 'dlq', 'dlq oldest'];
  const body = rows.map((row) => [
    row.task,
    String(row.queue.visible),
    String(row.queue.inFlight),
    String(row.queue.delayed),
    age(row.queue.oldestSeconds),
    String(row.dlq.visible + row.dlq.inFlight + row.dlq.delayed),
    age(row.dlq.oldestSeconds),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => cells[column]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ');
  return [line(header), ...body.map(line)].join('\n');
}

/** `tq stats [--watch]`: per task queue and its DLQ: visible, in flight, delayed, oldest age. */
export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('show each task queue and its DLQ: visible, in flight, delayed, age of the oldest message')
    .option('-w, --watch', 'refresh until Ctrl-C')
    .option('--interval <seconds>', 'refresh interval with --watch', '2')
    .option('--json', 'print JSON (one document per refresh)')
    .action(async (options: { watch?: boolean; interval: string; json?: boolean }) => {
      const interval = Number(options.interval);
      if (!Number.isFinite(interval) || interval < 0.2) {
        throw new UsageError(`--interval is "${options.interval}", must be a number of seconds, at least 0.2`);
      }
      const context = createContext();
      const oldest = oldestAge(context);
      let stopped = false;
      const stop = () => {
        stopped = true;
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        do {
          const rows = await collectStats(context, oldest);
          if (options.json) {
            console.log(JSON.stringify({ at: new Date().toISOString(), tasks: rows }));
          } else {
            if (options.watch && process.stdout.isTTY) process.stdout.write('\x1b[H\x1b[2J');
            if (options.watch)
              console.log(
                `${context.env.prefix} on ${context.env.endpoint ?? `AWS ${context.env.region}`}, ${new Date().toLocaleTimeString()}`,
              );
            console.log(renderStats(rows));
            if (!oldest.available()) console.log('(ages come from CloudWatch, which this endpoint does not serve)');
          }
          if (!options.watch) break;
          await new Promise((resolve) => setTimeout(resolve, interval * 1000));
        } while (!stopped);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        oldest.close();
        context.close();
      }
    });
}
