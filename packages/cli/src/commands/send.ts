import { readFile } from 'node:fs/promises';
import { AWS_LIMITS } from '@tq/aws';
import { createProducer, type SendOptions } from '@tq/producer-sdk';
import { statusEnabled } from '@tq/status';
import type { Command } from 'commander';
import { createContext } from '../context.js';
import { UsageError } from '../errors.js';
import { checkTask } from '../queues.js';

interface SendFlags {
  route?: string;
  delay?: string;
  at?: string;
  group?: string;
  dedupId?: string;
  idempotencyKey?: string;
  id?: string;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The CLI's producer: the project's registry and the context's clients, claim checks into the
 * artifacts bucket, and `sent` in the status table, so `tq status <id>` knows a task before a
 * worker has it (where there is no table the record is dropped and the send is unaffected).
 */
export function cliProducer(context: Awaited<ReturnType<typeof createContext>>) {
  return createProducer({
    registry: context.registry,
    sqs: context.sqs,
    sns: context.sns,
    s3: context.s3,
    prefix: context.env.prefix,
    largePayloads: { bucket: context.env.bucket },
    ...(statusEnabled(true) ? { status: context.status() } : {}),
  });
}

/** Reads the payload argument: inline JSON, `@file`, or `-` for stdin. */
export async function readPayload(argument: string): Promise<unknown> {
  let text: string;
  let source: string;
  if (argument === '-') {
    text = await readStdin();
    source = 'stdin';
  } else if (argument.startsWith('@')) {
    source = argument.slice(1);
    text = await readFile(source, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read payload file ${source}: ${error.code ?? error.message}`);
    });
  } else {
    text = argument;
    source = 'the payload argument';
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}

function integer(flag: string, value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isInteger(number))
    throw new UsageError(`${flag} is "${value}", must be an integer`);
  return number;
}

/** `--at`: an ISO 8601 time with a zone (`2026-12-01T02:00:00Z`, `...+01:00`). */
function atFlag(value: string): Date {
  const at = new Date(value);
  if (!/(?:Z|[+-]\d\d:?\d\d)$/i.test(value) || Number.isNaN(at.getTime())) {
    throw new UsageError(`--at is "${value}", must be an ISO 8601 time with its zone, such as 2026-12-01T02:00:00Z`);
  }
  return at;
}

/** `--delay`: SQS delays one message by 0 to 900 s. */
function delaySeconds(value: string): number {
  const seconds = integer('--delay', value);
  const max = AWS_LIMITS.sqs.maxDelaySeconds;
  if (seconds < 0 || seconds > max) throw new UsageError(`--delay is ${seconds}, must be from 0 to ${max} seconds`);
  return seconds;
}

/** `tq send <task> <json | @file | ->`: validates and sends one task through the producer SDK. */
export function registerSend(program: Command): void {
  program
    .command('send')
    .description('validate a payload and send it as a task; prints the task id')
    .argument('<task>', 'task type, e.g. send_email')
    .argument('<payload>', 'the payload as JSON, @file.json, or - to read stdin')
    .option('--route <route>', 'topic (SNS fan-out, default) or queue (straight to the task queue)')
    .option('--delay <seconds>', 'deliver after 0-900 s (sends straight to the queue)')
    .option('--at <time>', 'deliver at this ISO 8601 time (beyond 15 minutes: a one-time EventBridge schedule)')
    .option('--group <id>', 'FIFO message group (the task must be listed in TQ_FIFO_TASKS)')
    .option('--dedup-id <id>', 'FIFO deduplication id (default: the idempotency key, then the task id)')
    .option('--idempotency-key <key>', 'carried in the envelope so workers can recognise duplicates')
    .option('--id <uuid>', 'task id (default: a random UUID)')
    .addHelpText(
      'after',
      '\nThe payload of each task type: tq schema <task> (its JSON Schema).\n\nExample:\n  tq send send_email \'{"to":["ada@example.com"],"subject":"Hi","text":"Hello"}\'',
    )
    .action(async (task: string, payloadArgument: string, flags: SendFlags) => {
      const context = await createContext();
      checkTask(context.registry, task);
      if (flags.route !== undefined && flags.route !== 'topic' && flags.route !== 'queue') {
        throw new UsageError(`--route is "${flags.route}", must be "topic" or "queue"`);
      }
      const payload = await readPayload(payloadArgument);
      const options: SendOptions = {
        ...(flags.route ? { route: flags.route as 'topic' | 'queue' } : {}),
        ...(flags.delay !== undefined ? { delaySeconds: delaySeconds(flags.delay) } : {}),
        ...(flags.at !== undefined ? { at: atFlag(flags.at) } : {}),
        ...(flags.group !== undefined ? { groupId: flags.group } : {}),
        ...(flags.dedupId !== undefined ? { deduplicationId: flags.dedupId } : {}),
        ...(flags.idempotencyKey !== undefined ? { idempotencyKey: flags.idempotencyKey } : {}),
        ...(flags.id !== undefined ? { id: flags.id } : {}),
      };
      const producer = cliProducer(context);
      try {
        const result = await producer.send(task as never, payload as never, options);
        const via =
          result.route === 'topic'
            ? `topic ${context.env.prefix}-tasks`
            : result.route === 'schedule'
              ? `a one-time schedule for ${result.scheduledFor}`
              : 'its queue';
        console.log(result.id);
        console.error(
          `tq: sent ${task} ${result.id} via ${via} (message ${result.messageId}${result.claimCheck ? `, payload in ${result.claimCheck}` : ''})`,
        );
      } finally {
        await producer.close();
        context.close();
      }
    });
}
