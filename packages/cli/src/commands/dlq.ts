import { createInterface } from 'node:readline/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ListMessageMoveTasksCommand,
  type Message,
  type MessageAttributeValue,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { FAILURE_ATTRIBUTES } from '@tq/contracts';
import type { Command } from 'commander';
import { type CliContext, createContext } from '../context.js';
import { UsageError } from '../errors.js';
import { findTaskQueues, type TaskQueues } from '../queues.js';
import { collectStats } from './stats.js';

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
      MessageSystemAttributeNames: ['SentTimestamp', 'MessageGroupId', 'ApproximateReceiveCount'],
    }),
  );
  return out.Messages ?? [];
}

/** Reads up to `max` messages without consuming them: each goes back to visible right away. */
async function peek(context: CliContext, queues: TaskQueues, max: number): Promise<DeadLetter[]> {
  const seen = new Map<string, DeadLetter>();
  const held: Message[] = [];
  try {
    // Hold what was read (short visibility) so the next receive returns other messages.
    for (let empty = 0; seen.size < max && empty < 2; ) {
      const messages = await receive(context, queues.dlqUrl, max - seen.size, 30);
      const fresh = messages.filter((m) => !seen.has(m.MessageId ?? ''));
      held.push(...messages);
      for (const message of fresh) seen.set(message.MessageId ?? '', describe(message));
      empty = fresh.length === 0 ? empty + 1 : 0;
    }
  } finally {
    await release(context, queues.dlqUrl, held);
  }
  return [...seen.values()];
}

async function release(context: CliContext, url: string, messages: Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 10) {
    await context.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: messages.slice(start, start + 10).map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

function withoutFailureAttributes(message: Message): Record<string, MessageAttributeValue> {
  const failure = new Set<string>(Object.values(FAILURE_ATTRIBUTES));
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    if (failure.has(name)) continue;
    attributes[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
    };
  }
  return attributes;
}

/**
 * Moves messages back by sending each to the task queue and deleting it from the DLQ only after
 * the send succeeded: a crash in between can duplicate a message, never lose one.
 */
async function redriveBySending(context: CliContext, queues: TaskQueues, max: number): Promise<number> {
  const fifo = queues.queueUrl.endsWith('.fifo');
  let moved = 0;
  for (let empty = 0; moved < max && empty < 2; ) {
    const messages = await receive(context, queues.dlqUrl, max - moved, 60);
    if (messages.length === 0) {
      empty += 1;
      continue;
    }
    empty = 0;
    const sent = await context.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queues.queueUrl,
        Entries: messages.map((message, i) => ({
          Id: String(i),
          MessageBody: message.Body ?? '',
          MessageAttributes: withoutFailureAttributes(message),
          ...(fifo
            ? {
                MessageGroupId: message.Attributes?.MessageGroupId ?? 'tq-redrive',
                MessageDeduplicationId: `${message.MessageId}-${message.Attributes?.ApproximateReceiveCount ?? 1}`,
              }
            : {}),
        })),
      }),
    );
    const succeeded = new Set((sent.Successful ?? []).map((entry) => entry.Id));
    const done = messages.filter((_, i) => succeeded.has(String(i)));
    if (done.length > 0) {
      await context.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queues.dlqUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
    moved += done.length;
    const failed = sent.Failed ?? [];
    if (failed.length > 0) {
      await release(
        context,
        queues.dlqUrl,
        messages.filter((_, i) => !succeeded.has(String(i))),
      );
      throw new Error(
        `moved ${moved}, then ${queues.queueUrl} refused ${failed.length}: ${failed[0]?.Code} ${failed[0]?.Message ?? ''}`,
      );
    }
  }
  return moved;
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
    .action(async (task: string, options: { max: string; json?: boolean }) => {
      const max = positive('--max', options.max) ?? 10;
      const context = createContext();
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
    });

  dlq
    .command('redrive')
    .description("move dead-lettered messages back to the task's queue, bodies and attributes intact")
    .argument('<task>', 'task type')
    .option('-n, --max <count>', 'move at most this many (uses send-then-delete)')
    .action(async (task: string, options: { max?: string }) => {
      const max = positive('--max', options.max);
      const context = createContext();
      try {
        const queues = await findTaskQueues(context, task);
        let moved = max === undefined ? await redriveWithMoveTask(context, queues) : undefined;
        const how = moved === undefined ? 'send-then-delete' : 'an SQS move task';
        moved ??= await redriveBySending(context, queues, max ?? Number.POSITIVE_INFINITY);
        console.log(
          `tq: moved ${moved} message(s) from ${queues.dlqUrl.split('/').at(-1)} to ${queues.queueUrl.split('/').at(-1)} (${how})`,
        );
      } finally {
        context.close();
      }
    });

  dlq
    .command('purge')
    .description('delete every message in the dead-letter queue (asks first)')
    .argument('<task>', 'task type')
    .option('-y, --yes', 'do not ask')
    .action(async (task: string, options: { yes?: boolean }) => {
      const context = createContext();
      try {
        const queues = await findTaskQueues(context, task);
        const name = queues.dlqUrl.split('/').at(-1);
        if (!options.yes) {
          if (!process.stdin.isTTY)
            throw new UsageError(`refusing to purge ${name} without --yes (no terminal to ask)`);
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
    });
}
