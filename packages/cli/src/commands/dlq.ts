import { createInterface } from 'node:readline/promises';
import {
  DeleteMessageBatchCommand,
  ListMessageMoveTasksCommand,
  type Message,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { queueCounts, REDRIVE_SYSTEM_ATTRIBUTES, redriveEntry, releaseMessages, sampleMessages } from '@tq/aws';
import {
  FAILURE_ATTRIBUTES,
  isClaimCheckPointer,
  looksLikeClaimCheck,
  parseTask,
  type TaskRegistry,
} from '@tq/contracts';
import type { Command } from 'commander';
import { type CliContext, createContext } from '../context.js';
import { UsageError } from '../errors.js';
import { findTaskQueues, type TaskQueues } from '../queues.js';
import { collectStats } from './stats.js';

/** The reason attributes the worker adds; they do not travel back with a redrive. */
const FAILURE_NAMES: ReadonlySet<string> = new Set(Object.values(FAILURE_ATTRIBUTES));

/** A dead-lettered message as `tq dlq peek` shows it. */
export interface DeadLetter {
  messageId: string;
  code: string | undefined;
  reason: string | undefined;
  receiveCount: string | undefined;
  firstFailureAt: string | undefined;
  sourceQueue: string | undefined;
  sentAt: string | undefined;
  body: string;
}

function positive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new UsageError(`${flag} is "${value}", must be a positive integer`);
  return number;
}

function describe(message: Message): DeadLetter {
  const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue;
  const sent = Number(message.Attributes?.SentTimestamp);
  return {
    messageId: message.MessageId ?? '',
    code: attribute(FAILURE_ATTRIBUTES.code),
    reason: attribute(FAILURE_ATTRIBUTES.message),
    receiveCount: attribute(FAILURE_ATTRIBUTES.receiveCount),
    firstFailureAt: attribute(FAILURE_ATTRIBUTES.firstFailureAt),
    sourceQueue: attribute(FAILURE_ATTRIBUTES.sourceQueue),
    sentAt: Number.isFinite(sent) ? new Date(sent).toISOString() : undefined,
    body: message.Body ?? '',
  };
}

async function receive(context: CliContext, url: string, max: number, visibility: number): Promise<Message[]> {
  const out = await context.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: Math.min(10, max),
      // A short long-poll asks every SQS host, so a nearly empty queue is not reported empty.
      WaitTimeSeconds: 1,
      VisibilityTimeout: visibility,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['SentTimestamp', ...REDRIVE_SYSTEM_ATTRIBUTES],
    }),
  );
  return out.Messages ?? [];
}

/** Reads up to `max` dead letters without consuming them: each goes back to visible right away. */
async function peek(context: CliContext, queues: TaskQueues, max: number): Promise<DeadLetter[]> {
  return (await sampleMessages(context.sqs, queues.dlqUrl, { max })).map(describe);
}

/**
 * Why a dead-lettered body would fail validation again, as the worker decodes it (SNS
 * notifications unwrapped, claim-check pointers checked as pointers): a code, or undefined when
 * it would pass.
 */
export function wouldFailAgain(body: string, task: string, registry: TaskRegistry): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
    const record = value as { Type?: unknown; Message?: unknown; TopicArn?: unknown } | null;
    if (record?.Type === 'Notification' && typeof record.Message === 'string' && typeof record.TopicArn === 'string') {
      value = JSON.parse(record.Message);
    }
  } catch {
    return 'INVALID_JSON';
  }
  if (looksLikeClaimCheck(value)) {
    if (!isClaimCheckPointer(value)) return 'CLAIM_CHECK_INVALID';
    return value.task === task ? undefined : 'WRONG_TASK';
  }
  const parsed = parseTask(value, { registry });
  if (!parsed.ok) return parsed.error.code;
  return parsed.envelope.task === task ? undefined : 'WRONG_TASK';
}

/** What `tq dlq redrive` did (or, with `dryRun`, would do). */
export interface RedriveReport {
  /** Messages in the DLQ when it started: the most it looks at, so workers refilling it cannot keep it going. */
  atStart: number;
  moved: number;
  /** Left in the DLQ because their failure code is not the one asked for. */
  otherCodes: number;
  /** Left in the DLQ because they would fail validation again, by validation code. */
  invalid: Map<string, number>;
}

/**
 * Moves messages back by sending each to the task queue and deleting it from the DLQ only after
 * the send succeeded: a crash in between can duplicate a message, never lose one. Looks at no
 * more messages than the DLQ held when it started (as SQS's move task does), so a worker that
 * dead-letters them again cannot keep it running. Messages left behind (another failure code,
 * would fail validation again, a dry run) are held until the end, then made visible again.
 */
async function redriveBySending(
  context: CliContext,
  queues: TaskQueues,
  options: { max: number; code?: string; dryRun: boolean; force: boolean },
): Promise<RedriveReport> {
  const { fifo } = queues;
  const dlqName = queues.dlqUrl.split('/').at(-1);
  const atStart = (await queueCounts(context.sqs, queues.dlqUrl)).visible;
  const report: RedriveReport = { atStart, moved: 0, otherCodes: 0, invalid: new Map() };
  const limit = Math.min(options.max, atStart);
  const seen = new Set<string>();
  const kept: Message[] = [];
  try {
    for (let examined = 0, empty = 0; examined < limit && empty < 2; ) {
      // Held for 5 minutes: long enough for one pass, short enough to come back if tq dies.
      const messages = await receive(context, queues.dlqUrl, Math.min(10, limit - examined), 300);
      const fresh = messages.filter((message) => !seen.has(message.MessageId ?? ''));
      kept.push(...messages.filter((message) => seen.has(message.MessageId ?? '')));
      empty = fresh.length === 0 ? empty + 1 : 0;
      const room = limit - examined;
      // Past the count at start: not looked at, handed back.
      kept.push(...fresh.slice(room));
      const moving: Message[] = [];
      for (const message of fresh.slice(0, room)) {
        seen.add(message.MessageId ?? '');
        examined += 1;
        const code = message.MessageAttributes?.[FAILURE_ATTRIBUTES.code]?.StringValue;
        const failure = options.force ? undefined : wouldFailAgain(message.Body ?? '', queues.task, context.registry);
        if (options.code !== undefined && code !== options.code) {
          report.otherCodes += 1;
          kept.push(message);
        } else if (failure !== undefined) {
          report.invalid.set(failure, (report.invalid.get(failure) ?? 0) + 1);
          kept.push(message);
        } else if (options.dryRun) {
          report.moved += 1;
          kept.push(message);
        } else moving.push(message);
      }
      if (moving.length === 0) continue;
      const sent = await context.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queues.queueUrl,
          Entries: moving.map((message, i) => redriveEntry(message, { id: String(i), fifo, drop: FAILURE_NAMES })),
        }),
      );
      const succeeded = new Set((sent.Successful ?? []).map((entry) => entry.Id));
      const done = moving.filter((_, i) => succeeded.has(String(i)));
      if (done.length > 0) {
        await context.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queues.dlqUrl,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
      report.moved += done.length;
      const failed = sent.Failed ?? [];
      if (failed.length > 0) {
        kept.push(...moving.filter((_, i) => !succeeded.has(String(i))));
        throw new Error(
          `moved ${report.moved} from ${dlqName}, then ${queues.queueUrl} refused ${failed.length}: ${failed[0]?.Code} ${failed[0]?.Message ?? ''}`,
        );
      }
    }
  } finally {
    await releaseMessages(context.sqs, queues.dlqUrl, kept);
  }
  return report;
}

/** SQS's own move task; resolves with the number moved, or undefined when the endpoint has none. */
async function redriveWithMoveTask(context: CliContext, queues: TaskQueues): Promise<number | undefined> {
  try {
    await context.sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: queues.dlqArn, DestinationArn: queues.queueArn }),
    );
  } catch (error) {
    const name = (error as Error).name;
    if (/InvalidAction|UnsupportedOperation|UnknownOperation|NotImplemented/.test(name)) return undefined;
    throw error;
  }
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const out = await context.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: queues.dlqArn, MaxResults: 1 }));
    const task = out.Results?.[0];
    if (task?.Status === 'COMPLETED') return task.ApproximateNumberOfMessagesMoved ?? 0;
    if (task?.Status === 'FAILED' || task?.Status === 'CANCELLED') {
      throw new Error(`SQS move task ${task.Status.toLowerCase()}: ${task.FailureReason ?? 'no reason given'}`);
    }
  }
}

async function confirm(question: string): Promise<boolean> {
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await readline.question(question)).trim());
  } finally {
    readline.close();
  }
}

/** `tq dlq peek|redrive|purge <task>`. */
export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description("inspect and empty a task's dead-letter queue");

  dlq
    .command('peek')
    .description('show dead-lettered messages with their failure reasons, without removing them')
    .argument('<task>', 'task type')
    .option('-n, --max <count>', 'at most this many messages', '10')
    .option('--json', 'one JSON object per message')
    .action(peekAction);

  dlq
    .command('redrive')
    .description(
      "move dead-lettered messages back to the task's queue, bodies and attributes intact; at most what the DLQ held when it started",
    )
    .argument('<task>', 'task type')
    .option('-n, --max <count>', 'move at most this many')
    .option('--code <code>', 'move only messages dead-lettered with this tq-error-code (e.g. RETRIES_EXHAUSTED)')
    .option('--dry-run', 'say what would be moved, and move nothing')
    .option('--force', 'also move messages that would fail validation again')
    .option('--move-task', "use SQS's own message move task (moves everything; no filters, no validation)")
    .action(redriveAction);

  dlq
    .command('purge')
    .description('delete every message in the dead-letter queue (asks first)')
    .argument('<task>', 'task type')
    .option('-y, --yes', 'do not ask')
    .action(purgeAction);
}

/** `tq dlq peek`: dead letters with their failure reasons, left in place. */
async function peekAction(task: string, options: { max: string; json?: boolean }): Promise<void> {
  const max = positive('--max', options.max) ?? 10;
  const context = await createContext();
  try {
    const queues = await findTaskQueues(context, task);
    const letters = await peek(context, queues, max);
    if (options.json) {
      for (const letter of letters) console.log(JSON.stringify(letter));
      return;
    }
    if (letters.length === 0) {
      console.log(`tq: ${queues.dlqUrl.split('/').at(-1)} is empty`);
      return;
    }
    for (const letter of letters) {
      console.log(`${letter.messageId}  ${letter.code ?? '(no reason: moved by the redrive policy)'}`);
      if (letter.reason) console.log(`  reason:  ${letter.reason.replaceAll('\n', '\n           ')}`);
      if (letter.receiveCount)
        console.log(`  attempts: ${letter.receiveCount}, first failed ${letter.firstFailureAt ?? '?'}`);
      if (letter.sourceQueue) console.log(`  from:    ${letter.sourceQueue}`);
      console.log(
        `  body:    ${letter.body.length > 2000 ? `${letter.body.slice(0, 2000)}… (${letter.body.length} chars)` : letter.body}`,
      );
    }
    console.log(`tq: ${letters.length} message(s) shown`);
  } finally {
    context.close();
  }
}

/** `tq dlq redrive`: send-then-delete (filtered, validated) or SQS's own move task. */
async function redriveAction(
  task: string,
  options: { max?: string; code?: string; dryRun?: boolean; force?: boolean; moveTask?: boolean },
): Promise<void> {
  const max = positive('--max', options.max);
  if (options.code !== undefined && !/^[A-Za-z0-9_:.-]{1,128}$/.test(options.code)) {
    throw new UsageError(`--code is "${options.code}", must be a failure code such as RETRIES_EXHAUSTED`);
  }
  if (options.moveTask && (max !== undefined || options.code || options.dryRun || options.force)) {
    throw new UsageError('--move-task moves everything: it takes none of --max, --code, --dry-run, --force');
  }
  const context = await createContext();
  try {
    const queues = await findTaskQueues(context, task);
    const from = queues.dlqUrl.split('/').at(-1);
    const to = queues.queueUrl.split('/').at(-1);
    if (options.moveTask) {
      const moved = await redriveWithMoveTask(context, queues);
      if (moved === undefined) throw new UsageError('this endpoint has no SQS message move tasks: drop --move-task');
      console.log(`tq: moved ${moved} message(s) from ${from} to ${to} (an SQS move task)`);
      return;
    }
    const report = await redriveBySending(context, queues, {
      max: max ?? Number.POSITIVE_INFINITY,
      ...(options.code !== undefined ? { code: options.code } : {}),
      dryRun: options.dryRun === true,
      force: options.force === true,
    });
    const verb = options.dryRun ? 'would move' : 'moved';
    console.log(
      `tq: ${verb} ${report.moved} message(s) from ${from} to ${to} (send-then-delete; ${report.atStart} in the DLQ at start)`,
    );
    if (report.otherCodes > 0) {
      console.log(`tq: left ${report.otherCodes} message(s) dead-lettered with a code other than ${options.code}`);
    }
    if (report.invalid.size > 0) {
      const count = [...report.invalid.values()].reduce((sum, n) => sum + n, 0);
      const codes = [...report.invalid].map(([code, n]) => `${code} ×${n}`).join(', ');
      console.error(
        `tq: warning: left ${count} message(s) that would fail validation again (${codes}): the worker would dead-letter them at once. Fix them, or move them anyway with --force`,
      );
    }
  } finally {
    context.close();
  }
}

/** `tq dlq purge`: empties the DLQ, after asking (or with `--yes`). */
async function purgeAction(task: string, options: { yes?: boolean }): Promise<void> {
  const context = await createContext();
  try {
    const queues = await findTaskQueues(context, task);
    const name = queues.dlqUrl.split('/').at(-1);
    if (!options.yes) {
      if (!process.stdin.isTTY) throw new UsageError(`refusing to purge ${name} without --yes (no terminal to ask)`);
      const count = (await collectStats(context)).find((row) => row.task === task)?.dlq.visible ?? 0;
      if (!(await confirm(`purge ${count} message(s) from ${name}? [y/N] `))) {
        console.log('tq: nothing purged');
        return;
      }
    }
    await context.sqs.send(new PurgeQueueCommand({ QueueUrl: queues.dlqUrl }));
    console.log(`tq: purged ${name}`);
  } finally {
    context.close();
  }
}
