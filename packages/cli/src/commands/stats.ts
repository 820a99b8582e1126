import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { queueNameOf, queueStatistics, readDestinations } from '@tq/activemq';
import { oldestAgeLookup, readQueueCounts } from '@tq/console';
import { awsClientSettings, copyQueueName } from '@tq/contracts';
import type { Command } from 'commander';
import { type CliContext, createContext } from '../context.js';
import { UsageError } from '../errors.js';
import { findTaskQueues, lookupQueue } from '../queues.js';
import { renderVersions, sampleVersions, type TaskVersions } from './stats-versions.js';

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
  /** With `--versions`: the payload versions a sample of each queue holds. */
  versions?: TaskVersions;
}

/** The oldest-message ages from CloudWatch (none where the endpoint serves no CloudWatch). */
function oldestAge(context: CliContext) {
  const cloudwatch = new CloudWatchClient({ ...awsClientSettings(context.env), maxAttempts: 1 });
  return { ...oldestAgeLookup(cloudwatch), close: () => cloudwatch.destroy() };
}

/**
 * Collects the stats of every registered task that has a queue; with `sampleVersions`, the payload
 * versions of up to that many messages of each queue and DLQ.
 */
export async function collectStats(
  context: CliContext,
  oldest = oldestAge(context),
  options: { sampleVersions?: number } = {},
): Promise<TaskStats[]> {
  const rows: TaskStats[] = [];
  for (const task of context.registry.names()) {
    const queues = await findTaskQueues(context, task);
    const [queue, dlq] = await Promise.all([
      readQueueCounts(context.sqs, queues.queueUrl, oldest),
      readQueueCounts(context.sqs, queues.dlqUrl, oldest),
    ]);
    const max = options.sampleVersions;
    if (max === undefined) rows.push({ task, queue, dlq });
    else {
      const [queueVersions, dlqVersions] = await Promise.all([
        sampleVersions(context.sqs, queues.queueUrl, max),
        sampleVersions(context.sqs, queues.dlqUrl, max),
      ]);
      rows.push({ task, queue, dlq, versions: { queue: queueVersions, dlq: dlqVersions } });
    }
  }
  return rows;
}

/** One row of the ActiveMQ part of `tq stats`: the bridge's copy queue and the broker's queue. */
export interface ActiveMqRow {
  /** A task type, or `ingest` / `ingest dlq` for the way into tq. */
  name: string;
  /** The bridge's copy queue in SQS (undefined for the ingest rows, or when it does not exist). */
  copy: QueueStats | undefined;
  destination: string;
  /** Messages on the broker's queue (undefined when the broker does not know it). */
  depth: number | undefined;
  consumers: number | undefined;
  enqueued: number | undefined;
}

/** The ActiveMQ part of `tq stats`: `error` instead of rows when the broker did not answer. */
export interface ActiveMqStats {
  broker: string;
  rows: ActiveMqRow[];
  error?: string;
}

/** The broker `tq stats` and `tq demo` look at: `TQ_ACTIVEMQ_URL`, or `tq up`'s local one with `TQ_ACTIVEMQ=1`. */
export function activemqUrl(env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  return env.TQ_ACTIVEMQ_URL || (env.TQ_ACTIVEMQ === '1' ? 'stomp://127.0.0.1:61613' : undefined);
}

/**
 * The bridge's side: per forwarded task its SQS copy queue and the broker's queue depth (from the
 * statistics plugin), plus the ingest queue and its DLQ. Undefined without a configured broker.
 */
export async function collectActiveMqStats(context: CliContext): Promise<ActiveMqStats | undefined> {
  const url = activemqUrl();
  const setting = context.env.activemq;
  if (!url || !setting) return undefined;
  const prefix = context.env.prefix;
  const tasks = setting.tasks === 'all' ? context.registry.names() : [...setting.tasks];
  const destinations = readDestinations(process.env, prefix, tasks);
  const ingest = process.env.ACTIVEMQ_INGEST_QUEUE || `${prefix}.ingest`;
  const ingestDlq = process.env.ACTIVEMQ_INGEST_DLQ || `${prefix}.ingest.dlq`;
  const names = [...Object.values(destinations), ingest, ingestDlq].map(queueNameOf);
  const copies = await Promise.all(
    tasks.map(async (task) => {
      const copyUrl = await lookupQueue(context, copyQueueName(prefix, task, 'activemq'));
      return copyUrl ? readQueueCounts(context.sqs, copyUrl, oldestAgeLookup(undefined)) : undefined;
    }),
  );
  const row = (
    name: string,
    destination: string,
    copy: QueueStats | undefined,
    stats?: Map<string, { size: number; consumers: number; enqueued: number }>,
  ) => {
    const found = stats?.get(queueNameOf(destination));
    return {
      name,
      copy,
      destination: queueNameOf(destination),
      depth: found?.size,
      consumers: found?.consumers,
      enqueued: found?.enqueued,
    };
  };
  try {
    // A queue the broker lacks gets no answer: a short wait for those.
    const stats = await queueStatistics(url, names, { timeoutMs: 1500 });
    return {
      broker: url,
      rows: [
        ...tasks.map((task, index) => row(task, destinations[task] as string, copies[index], stats)),
        row('ingest', ingest, undefined, stats),
        row('ingest dlq', ingestDlq, undefined, stats),
      ],
    };
  } catch (error) {
    return {
      broker: url,
      rows: tasks.map((task, index) => row(task, destinations[task] as string, copies[index])),
      error: (error as Error).message,
    };
  }
}

/** Renders the ActiveMQ part as an aligned table under a title line. */
export function renderActiveMqStats(stats: ActiveMqStats): string {
  const header = ['activemq', 'copy queue', 'in flight', 'destination', 'depth', 'consumers', 'enqueued'];
  const value = (n: number | undefined) => (n === undefined ? '-' : String(n));
  const body = stats.rows.map((row) => [
    row.name,
    value(row.copy?.visible),
    value(row.copy?.inFlight),
    row.destination,
    value(row.depth),
    value(row.consumers),
    value(row.enqueued),
  ]);
  const title = `ActiveMQ at ${stats.broker}${stats.error ? `: not answering (${stats.error})` : ''}`;
  return `${title}\n${table(header, body)}`;
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => cells[column]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 0 || column === 3 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [line(header), ...body.map(line)].join('\n');
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
    .option(
      '--versions [n]',
      'also show the payload versions a sample of up to n (default 20) messages of each queue and DLQ carries',
    )
    .action(async (options: { watch?: boolean; interval: string; json?: boolean; versions?: string | true }) => {
      const interval = Number(options.interval);
      if (!Number.isFinite(interval) || interval < 0.2) {
        throw new UsageError(`--interval is "${options.interval}", must be a number of seconds, at least 0.2`);
      }
      const sample =
        options.versions === undefined ? undefined : options.versions === true ? 20 : Number(options.versions);
      if (sample !== undefined && !(Number.isInteger(sample) && sample >= 1 && sample <= 1000)) {
        throw new UsageError(`--versions is "${options.versions}", must be a whole number of messages from 1 to 1000`);
      }
      const context = await createContext();
      const oldest = oldestAge(context);
      let stopped = false;
      const stop = () => {
        stopped = true;
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        do {
          const [rows, activemq] = await Promise.all([
            collectStats(context, oldest, sample === undefined ? {} : { sampleVersions: sample }),
            collectActiveMqStats(context),
          ]);
          if (options.json) {
            console.log(
              JSON.stringify({ at: new Date().toISOString(), tasks: rows, ...(activemq ? { activemq } : {}) }),
            );
          } else {
            if (options.watch && process.stdout.isTTY) process.stdout.write('\x1b[H\x1b[2J');
            if (options.watch)
              console.log(
                `${context.env.prefix} on ${context.env.endpoint ?? `AWS ${context.env.region}`}, ${new Date().toLocaleTimeString()}`,
              );
            console.log(renderStats(rows));
            if (sample !== undefined) console.log(`\n${renderVersions(rows, sample)}`);
            if (!oldest.available()) console.log('(ages come from CloudWatch, which this endpoint does not serve)');
            if (activemq) console.log(`\n${renderActiveMqStats(activemq)}`);
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
