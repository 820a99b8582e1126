import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type AwsClientConfig, queueCounts } from '@tq/testing';

/** What the orchestrator hands every scenario. */
export interface BenchContext {
  /** The local endpoint (its own process). */
  endpoint: string;
  clientConfig: AwsClientConfig;
  /** The SMTP sink (its own process). */
  smtpUrl: string;
  /** Fewer messages and rounds, for a quick look (`--quick`). */
  quick: boolean;
}

/** One contender's measurement in one round. */
export interface Measurement {
  /** The headline number, in the scenario's unit (higher is better unless `lowerIsBetter`). */
  value: number;
  p50?: number;
  p99?: number;
  /** Peak resident set size of the contender's process, MB. */
  peakRssMb?: number;
  /** User + system CPU of the contender's process during the run, seconds. */
  cpuSeconds?: number;
  /**
   * CPU seconds the servers spent while the contender ran (the endpoint, the SMTP sink and the
   * scenario's own: a broker, a second endpoint). On a machine whose cores the contender shares
   * with them, contender + servers over the run's length says whether the cores were the limit.
   */
  serverCpuSeconds?: number;
  /** Anything else worth keeping in the JSON results. */
  extra?: Record<string, number | string>;
}

/** A benchmark scenario: set up in the orchestrator, run in one child process per contender and round. */
export interface Scenario<TConfig = unknown> {
  name: string;
  title: string;
  unit: string;
  lowerIsBetter?: boolean;
  /** Contenders in run order; ratios are against `reference`. */
  contenders: string[];
  reference: string;
  /** What "reference" means here, for the README and the table. */
  referenceNote: string;
  rounds(context: BenchContext): number;
  /**
   * Run the reference once, unmeasured, before round 1: where the endpoint is the limit, the
   * first run of a scenario otherwise pays for warming the endpoint's code paths (the emulator
   * is a Node process too) and whoever runs first in round 1 looks slow.
   */
  warmUp?: boolean;
  /** Fresh resources for one run (queues, preloaded messages, files), in the orchestrator. */
  prepare(context: BenchContext, contender: string): Promise<TConfig>;
  /** The run itself, in a child process of its own. */
  run(contender: string, config: TConfig): Promise<Measurement>;
  /** Checks after a run (nothing lost, nothing left), in the orchestrator. */
  verify?(context: BenchContext, config: TConfig): Promise<void>;
  /** Process ids of servers `prepare` started for this run (their CPU is counted as the servers'). */
  servers?(config: TConfig): number[];
}

/**
 * The contenders an `--only` list names, in the scenario's order, the reference always among
 * them. The list is split on commas, but a run of pieces that joins back into a contender's name
 * (`tq http-relay, prefetch 10`) is that contender, the longest such run first.
 */
export function selectContenders(list: string, contenders: readonly string[], reference: string): string[] {
  const normal = (name: string) => name.replace(/\s*,\s*/g, ',').trim();
  const byName = new Map(contenders.map((name) => [normal(name), name]));
  const pieces = list.split(',').map((piece) => piece.trim());
  const named = new Set<string>([reference]);
  for (let i = 0; i < pieces.length; ) {
    let end = pieces.length;
    while (end > i + 1 && !byName.has(pieces.slice(i, end).join(','))) end -= 1;
    const name = byName.get(pieces.slice(i, end).join(','));
    if (name) named.add(name);
    i = end;
  }
  return contenders.filter((name) => named.has(name));
}

let clockTicks: number | undefined;
/**
 * CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`; undefined
 * where there is no `/proc` (not Linux) or the process is gone.
 */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Percentile of sorted numbers (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Peak RSS of this process in MB (Linux `VmHWM`; elsewhere the current RSS). */
export function peakRssMb(): number {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1]);
    if (Number.isFinite(kb)) return kb / 1024;
  } catch {}
  return process.memoryUsage().rss / 1024 / 1024;
}

let counter = 0;
/** A queue name no other run uses. */
export function freshName(base: string): string {
  counter += 1;
  return `bench-${base}-${Date.now().toString(36)}-${counter}`;
}

/** Creates a queue and its DLQ (redrive after 5 receives); returns both URLs. */
export async function createQueues(config: AwsClientConfig, base: string) {
  const sqs = new SQSClient(config);
  try {
    const name = freshName(base);
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes?.QueueArn;
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }) },
      }),
    );
    return { queueUrl: queue.QueueUrl as string, dlqUrl: dlq.QueueUrl as string };
  } finally {
    sqs.destroy();
  }
}

/**
 * Deletes a run's queues once it was checked, so the emulator does not carry every earlier run's
 * messages into the next one (its heap, and its garbage collection, would grow run by run).
 */
export async function deleteQueues(config: AwsClientConfig, ...queueUrls: string[]): Promise<void> {
  const sqs = new SQSClient(config);
  try {
    for (const queueUrl of queueUrls) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  } finally {
    sqs.destroy();
  }
}

/** Sends `bodies` to a queue in batches of 10, 16 calls at a time. */
export async function preload(config: AwsClientConfig, queueUrl: string, bodies: string[]): Promise<void> {
  const sqs = new SQSClient(config);
  try {
    const batches: SendMessageBatchRequestEntry[][] = [];
    for (let i = 0; i < bodies.length; i += 10) {
      batches.push(bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })));
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < batches.length) {
          const entries = batches[next++] as SendMessageBatchRequestEntry[];
          const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
          if (out.Failed?.length) throw new Error(`preload: ${out.Failed.length} entries failed`);
        }
      }),
    );
  } finally {
    sqs.destroy();
  }
}

/** Visible + in-flight + delayed messages of a queue. */
export async function remaining(config: AwsClientConfig, queueUrl: string): Promise<number> {
  const sqs = new SQSClient(config);
  try {
    const counts = await queueCounts(sqs, queueUrl);
    return counts.visible + counts.inFlight + counts.delayed;
  } finally {
    sqs.destroy();
  }
}

/** Runs `work` over items with at most `limit` at once. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Where `--pin` puts processes: the contender on the first core, the servers (endpoint, SMTP
 * sink, brokers, side processes) on the others, so neither takes the other's CPU, as on AWS,
 * where SQS and DynamoDB do not run on the worker's machine. Undefined without `--pin`.
 */
export interface Pinning {
  contender: string;
  servers: string;
}

/** Pins a running process, all its threads, to `cores` (a `taskset` list such as `1-3`). */
export function pinProcess(pid: number, cores: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
}

/** Runs one contender of a scenario in a child process and returns its measurement. */
export async function runInChild(
  scenario: string,
  contender: string,
  config: unknown,
  pinning?: Pinning,
): Promise<Measurement> {
  // Compiled JavaScript all the way down (`pnpm bench` builds first): what users run, with no
  // TypeScript loader in the measured process.
  const args = [
    ...(process.env.BENCH_CHILD_ARGS ? process.env.BENCH_CHILD_ARGS.split(' ') : []),
    join(here, 'contender.js'),
    scenario,
    contender,
  ];
  const child = spawn(
    pinning ? 'taskset' : process.execPath,
    pinning ? ['-c', pinning.contender, process.execPath, ...args] : args,
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: {
        ...process.env,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        // Processes the contender starts beside it that stand in for a service go there.
        ...(pinning ? { BENCH_SERVER_CORES: pinning.servers } : {}),
      },
    },
  );
  child.stdin?.end(JSON.stringify(config));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = output.split('\n').find((candidate) => candidate.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`${scenario}/${contender} failed (exit ${code}):\n${output.slice(-2000)}`);
  return JSON.parse(line.slice('RESULT '.length)) as Measurement;
}

/**
 * Starts `worker` and resolves with the tasks/s from `started` until it has handled `count`
 * messages; stops it after the clock stops.
 */
export async function drainWithWorker(
  worker: { start(): Promise<void>; stop(): Promise<void>; on(event: 'succeeded', listener: () => void): unknown },
  count: number,
  started: number,
): Promise<number> {
  let done = 0;
  const all = new Promise<void>((resolve) =>
    worker.on('succeeded', () => {
      done += 1;
      if (done === count) resolve();
    }),
  );
  await worker.start();
  await all;
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  return count / seconds;
}

/**
 * A hand-rolled queue consumer, what a team writes instead of a runtime: `pollers` loops, each
 * receive 10 → `handle` each body at once → `DeleteMessageBatch` → receive again, no validation,
 * retries or heartbeats. Resolves with the tasks/s from `started` once `count` were handled.
 */
export async function rawConsumerLoop(options: {
  clientConfig: AwsClientConfig;
  queueUrl: string;
  count: number;
  pollers: number;
  started: number;
  handle: (body: string) => Promise<void>;
}): Promise<number> {
  const sqs = new SQSClient(options.clientConfig);
  let handled = 0;
  let seconds = 0;
  const loops = Array.from({ length: options.pollers }, async () => {
    while (handled < options.count) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: options.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) continue;
      await Promise.all(messages.map((message) => options.handle(message.Body ?? '')));
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
      handled += messages.length;
      // The clock stops at the last task, not when the other loops' long polls come back empty.
      if (handled >= options.count && seconds === 0) seconds = (performance.now() - options.started) / 1000;
    }
  });
  await Promise.all(loops);
  sqs.destroy();
  return options.count / seconds;
}
