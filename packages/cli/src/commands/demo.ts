import { existsSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { BrokerConnection, browseQueue, queueNameOf, readDestinations } from '@tq/activemq';
import { FAILURE_ATTRIBUTES, type TaskName } from '@tq/contracts';
import { createProducer } from '@tq/producer-sdk';
import { StatusNotTrackedError, type StatusReader, type TaskStatus } from '@tq/status';
import type { Command } from 'commander';
import { type CliContext, createContext } from '../context.js';
import { UsageError } from '../errors.js';
import { type LocalStack, startLocalStack } from '../local-stack.js';
import { loadProject } from '../project.js';
import { findTaskQueues } from '../queues.js';
import { type DemoTask, SAMPLE_CSV, samplePng, sendDemoTasks } from './demo-tasks.js';
import { activemqUrl } from './stats.js';

/** Looks for any of `ids` in the task's DLQ; returns the reason of the first found. */
async function deadLetterReason(context: CliContext, task: TaskName, ids: Set<string>): Promise<string | undefined> {
  const queues = await findTaskQueues(context, task);
  const out = await context.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queues.dlqUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      MessageAttributeNames: ['All'],
    }),
  );
  for (const message of out.Messages ?? []) {
    const body = message.Body ?? '';
    if ([...ids].some((id) => body.includes(id))) {
      const attributes = message.MessageAttributes ?? {};
      return `${attributes[FAILURE_ATTRIBUTES.code]?.StringValue ?? 'dead-lettered'}: ${attributes[FAILURE_ATTRIBUTES.message]?.StringValue ?? ''}`;
    }
  }
  return undefined;
}

/**
 * Looks on ActiveMQ (without taking it: a queue browser) for the send_email task the bridge
 * forwarded. Resolves with a line saying where it is, or undefined at the deadline.
 */
async function findOnActiveMq(
  url: string,
  destination: string,
  id: string,
  deadline: number,
): Promise<string | undefined> {
  const connection = new BrokerConnection({ url, connectTimeoutMs: 3000, heartbeatMs: 0 });
  connection.start();
  try {
    const limit = new AbortController();
    const timer = setTimeout(() => limit.abort(), Math.max(0, deadline - Date.now()));
    try {
      await connection.waitConnected(limit.signal);
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
    while (Date.now() < deadline) {
      const messages = await browseQueue(connection, destination, { timeoutMs: 3000 });
      const found = messages.find((message) => message.headers.tq_task_id === id);
      if (found) {
        return `send_email ${id} is on ActiveMQ ${queueNameOf(destination)} (persistent=${found.headers.persistent}, tq_task=${found.headers.tq_task})`;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return undefined;
  } finally {
    await connection.close();
  }
}

async function runDemo(
  context: CliContext,
  mailDir: string | undefined,
  timeoutMs: number,
  brokerUrl: string | undefined = activemqUrl(),
): Promise<boolean> {
  // What the system knows of each task: its status (when the status table exists).
  let reader: StatusReader | undefined = context.status().reader;
  const { bucket, prefix } = context.env;
  const run = new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 14);
  const folder = `demo/${run}`;
  const to = 'demo@example.com';
  await context.s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: `${folder}/photo.png`, Body: samplePng(), ContentType: 'image/png' }),
  );
  await context.s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: `${folder}/customers.csv`, Body: SAMPLE_CSV, ContentType: 'text/csv' }),
  );
  console.log(`tq demo: uploaded s3://${bucket}/${folder}/photo.png and customers.csv`);

  const producer = createProducer({
    registry: context.registry,
    sqs: context.sqs,
    sns: context.sns,
    s3: context.s3,
    prefix,
    status: context.status(),
  });
  let tasks: DemoTask[];
  try {
    tasks = await sendDemoTasks({ context, producer, bucket, folder, run, to, mailDir, reader: () => reader });
  } finally {
    await producer.close();
  }
  console.log(`tq demo: sent ${tasks.map((t) => t.task).join(', ')}; waiting for the workers`);

  const pending = new Map(tasks.map((task) => [task.task, task]));
  const deadline = Date.now() + timeoutMs;
  let round = 0;
  let failed = false;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const task of [...pending.values()]) {
      let status: TaskStatus | undefined;
      if (reader) {
        try {
          status = await reader.get(task.id);
        } catch (error) {
          if (!(error instanceof StatusNotTrackedError)) throw error;
          console.log(`tq demo: ${error.message}; checking the outputs instead`);
          reader = undefined;
        }
      }
      if (status?.state === 'dead-lettered') {
        console.log(
          `  ✗ ${task.task.padEnd(16)} dead-lettered: ${status.error?.code ?? ''}: ${status.error?.message ?? ''}`,
        );
        pending.delete(task.task);
        failed = true;
        continue;
      }
      const where = reader && status?.state !== 'succeeded' ? undefined : await task.check(status);
      if (where) {
        console.log(`  ✓ ${task.task.padEnd(16)} ${where}`);
        pending.delete(task.task);
        continue;
      }
      if (!reader && round % 4 === 3) {
        const reason = await deadLetterReason(context, task.task, new Set([task.id]));
        if (reason) {
          console.log(`  ✗ ${task.task.padEnd(16)} dead-lettered: ${reason}`);
          pending.delete(task.task);
          failed = true;
        }
      }
    }
    round += 1;
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  for (const task of pending.values()) {
    console.log(
      `  ✗ ${task.task.padEnd(16)} not done after ${Math.round(timeoutMs / 1000)} s (is its worker running? see \`tq stats\`)`,
    );
  }
  // With the ActiveMQ bridge, the email task also went to ActiveMQ.
  const forwarded = context.env.activemq;
  const email = tasks.find((task) => task.task === 'send_email');
  if (brokerUrl && forwarded && email && (forwarded.tasks === 'all' || forwarded.tasks.includes('send_email'))) {
    const destination = readDestinations(process.env, context.env.prefix, ['send_email']).send_email as string;
    const where = await findOnActiveMq(brokerUrl, destination, email.id, Math.max(deadline, Date.now() + 30_000));
    if (where) console.log(`  ✓ ${'activemq'.padEnd(16)} ${where}`);
    else {
      console.log(
        `  ✗ ${'activemq'.padEnd(16)} send_email ${email.id} not seen on ${queueNameOf(destination)} at ${brokerUrl} (is the bridge running? a consumer may have taken it)`,
      );
      failed = true;
    }
  }
  return !failed && pending.size === 0;
}

/** The task types the demo sends one of each. */
const DEMO_TASKS = ['send_email', 'process_image', 'cleanup_data', 'generate_report'] as const;

/** `tq demo`: one task of each type through the running system, and where each result is. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('send one task of each type through the local system and show where each result is')
    .option('--mail-dir <dir>', 'where the SMTP sink of `tq up` writes mails', '.tq/mail')
    .option('--timeout <seconds>', 'how long to wait for the workers', '120')
    .action(async (options: { mailDir: string; timeout: string }) => {
      const timeout = Number(options.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) {
        throw new UsageError(`--timeout is "${options.timeout}", must be a positive number of seconds`);
      }
      // The demo sends the four built-in task types: a project without them has nothing to show here.
      const { registry } = (await loadProject()).config;
      const missing = DEMO_TASKS.filter((task) => !registry.has(task));
      if (missing.length > 0) {
        throw new UsageError(
          `tq demo sends tq's four example task types, and this project does not define ${missing.join(', ')}: send your own with tq send <task> <json>, and follow it with tq status <id> --wait`,
        );
      }
      let stack: LocalStack | undefined;
      let mailDir: string | undefined = options.mailDir;
      if (!process.env.TQ_ENDPOINT) {
        console.log('tq demo: TQ_ENDPOINT is not set, so starting the local system for the demo');
        stack = await startLocalStack({
          port: 0,
          host: '127.0.0.1',
          smtpPort: 0,
          mailDir: options.mailDir,
          activemqPorts: { stomp: 0, openwire: 0 },
        });
        mailDir = stack.mailDir;
      } else if (process.env.SMTP_URL) {
        mailDir = undefined;
      }
      const context = await createContext(stack ? { endpoint: stack.env.endpoint } : {});
      try {
        if (!mailDir || !existsSync(mailDir)) {
          if (!stack) console.log(`tq demo: no mail folder at ${options.mailDir}; mails are not checked`);
          mailDir = stack ? mailDir : undefined;
        }
        const ok = await runDemo(context, mailDir, timeout * 1000, stack ? stack.activemqUrl : activemqUrl());
        if (!ok) throw new Error('demo failed: see the tasks marked ✗ above');
        console.log('tq demo: all four tasks done');
      } finally {
        context.close();
        await stack?.stop();
      }
    });
}
