import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { BrokerConnection, browseQueue, queueNameOf, readDestinations } from '@tq/activemq';
import { FAILURE_ATTRIBUTES, type TaskName } from '@tq/contracts';
import { createProducer } from '@tq/producer-sdk';
import { StatusNotTrackedError, type StatusReader, type TaskStatus } from '@tq/status';
import type { Command } from 'commander';
import { type CliContext, createContext } from '../context.js';
import { UsageError } from '../errors.js';
import { displayPath, type LocalStack, startLocalStack } from '../local-stack.js';
import { loadProject } from '../project.js';
import { findTaskQueues } from '../queues.js';
import { activemqUrl } from './stats.js';

/** A photo-sized PNG (a colour gradient), made here so the demo needs no binary files. */
export function samplePng(width = 1200, height = 800): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (data: Buffer) => {
    let c = 0xffffffff;
    for (const byte of data) c = (crcTable[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x += 1) {
      const i = row + 1 + x * 3;
      raw[i] = Math.round((x / width) * 255);
      raw[i + 1] = Math.round((y / height) * 255);
      raw[i + 2] = Math.round(((x + y) % 256) / 2 + 64);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const SAMPLE_CSV = [
  'id,name,email,signup,plan',
  '1,  Ada Lovelace ,ADA@example.com,10/12/2023,pro',
  '2,Grace Hopper,grace@example.com,05/01/2024,free',
  '3,Grace Hopper,GRACE@EXAMPLE.COM,05/01/2024,free',
  '4,Alan Turing,not-an-email,01/02/2024,pro',
  '5,Katherine Johnson,katherine@example.com,31/04/2024,team',
  '6,"Broken "quote",x@example.com,01/03/2024,free',
  ',,,,',
  '7,Margaret Hamilton,margaret@example.com,14/03/2024,=HYPERLINK("http://example.com")',
  '',
].join('\n');

interface DemoTask {
  task: TaskName;
  id: string;
  /**
   * Resolves with a line saying where the result is, or undefined while it is not there yet.
   * `status` is the task's succeeded status when the status table exists (undefined without one:
   * then the outputs themselves are the only evidence).
   */
  check(status: TaskStatus | undefined): Promise<string | undefined>;
}

async function exists(context: CliContext, bucket: string, key: string): Promise<Record<string, string> | undefined> {
  try {
    const head = await context.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return head.Metadata ?? {};
  } catch {
    return undefined;
  }
}

/** Finds the .eml file of a mail by a header value, in a folder the SMTP sink writes to. */
async function findMail(dir: string, header: RegExp): Promise<string | undefined> {
  if (!existsSync(dir)) return undefined;
  for (const name of (await readdir(dir))
    .filter((file) => file.endsWith('.eml'))
    .sort()
    .reverse()) {
    const head = (await readFile(join(dir, name), 'utf8')).split(/\r?\n\r?\n/)[0] ?? '';
    if (header.test(head)) return join(dir, name);
  }
  return undefined;
}

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
  const tasks: DemoTask[] = [];
  try {
    const email = await producer.send('send_email', {
      to: [to],
      subject: `tq demo ${run}: hello`,
      text: 'Sent through SNS, the send_email queue and the email worker.',
    });
    tasks.push({
      task: 'send_email',
      id: email.id,
      check: async (status) => {
        const file = mailDir ? await findMail(mailDir, new RegExp(`^Message-ID: <${email.id}@`, 'im')) : undefined;
        if (status) {
          const result = status.result as { messageId?: string; accepted?: string[] } | undefined;
          const sentTo = `sent to ${result?.accepted?.join(', ') || to} as ${result?.messageId ?? email.id}`;
          return file ? `${sentTo}, mail ${displayPath(file)}` : sentTo;
        }
        return file ? `mail ${displayPath(file)}` : undefined;
      },
    });

    const image = await producer.send('process_image', {
      source: `s3://${bucket}/${folder}/photo.png`,
      destination: `s3://${bucket}/${folder}/images/`,
      variants: [
        { name: 'thumb', width: 200, height: 200, fit: 'cover', format: 'webp', quality: 80 },
        { name: 'medium', width: 800, format: 'jpeg', quality: 82 },
      ],
    });
    tasks.push({
      task: 'process_image',
      id: image.id,
      check: async () => {
        // The variants are the result: they must be there whatever the status says.
        const thumb = await exists(context, bucket, `${folder}/images/thumb.webp`);
        const medium = await exists(context, bucket, `${folder}/images/medium.jpg`);
        if (!thumb || !medium) return undefined;
        return `s3://${bucket}/${folder}/images/thumb.webp (${thumb['tq-width']}x${thumb['tq-height']}), medium.jpg (${medium['tq-width']}x${medium['tq-height']})`;
      },
    });

    const cleanup = await producer.send('cleanup_data', {
      source: `s3://${bucket}/${folder}/customers.csv`,
      destination: `s3://${bucket}/${folder}/clean/`,
      rules: {
        columns: {
          email: { type: 'email' },
          name: { case: 'title' },
          signup: { type: 'date', dateFormats: ['DD/MM/YYYY'] },
        },
        requiredColumns: ['id', 'email'],
        dedupe: { keys: ['email'], caseInsensitive: true },
      },
    });
    tasks.push({
      task: 'cleanup_data',
      id: cleanup.id,
      check: async () => {
        if (!(await exists(context, bucket, `${folder}/clean/summary.json`))) return undefined;
        const object = await context.s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: `${folder}/clean/summary.json` }),
        );
        const summary = JSON.parse((await object.Body?.transformToString()) ?? '{}') as {
          rowsIn: number;
          rowsOut: number;
          rejected: number;
          duplicatesRemoved: number;
        };
        return `s3://${bucket}/${folder}/clean/cleaned.csv (${summary.rowsOut} of ${summary.rowsIn} rows kept, ${summary.rejected} rejected, ${summary.duplicatesRemoved} duplicate), rejects.csv, summary.json`;
      },
    });

    const regions = ['north', 'south', 'east', 'west'];
    const report = await producer.send('generate_report', {
      title: `Demo sales report ${run}`,
      subtitle: 'Generated by tq demo — 演示报告',
      rows: Array.from({ length: 120 }, (_, i) => ({
        region: regions[i % regions.length] as string,
        product: `product-${(i * 7) % 13}`,
        units: (i % 9) + 1,
        revenue: Math.round(((i * 4099) % 50_000) + 100) / 100,
      })),
      columns: [
        { key: 'region', label: 'Region' },
        { key: 'product', label: 'Product' },
        { key: 'units', label: 'Units', format: 'number' },
        { key: 'revenue', label: 'Revenue', format: 'currency' },
      ],
      groupBy: 'region',
      aggregates: [
        { column: 'units', fn: 'sum', label: 'Units' },
        { column: 'revenue', fn: 'sum', label: 'Revenue' },
      ],
      chart: { type: 'bar', aggregate: 1 },
      destination: `s3://${bucket}/${folder}/report.pdf`,
      email: { to: [to], subject: `tq demo ${run}: your report` },
    });
    tasks.push({
      task: 'generate_report',
      id: report.id,
      check: async (status) => {
        const pdf = await exists(context, bucket, `${folder}/report.pdf`);
        if (!pdf) return undefined;
        let mailed = '';
        const emailTaskId = (status?.result as { emailTaskId?: string } | undefined)?.emailTaskId;
        if (emailTaskId) {
          // The report chains a send_email task: it is done when that one is.
          const chained = await reader?.get(emailTaskId).catch(() => undefined);
          if (chained?.state === 'dead-lettered')
            return `report ok, but its email was dead-lettered: ${chained.error?.message}`;
          if (chained?.state !== 'succeeded') return undefined;
          mailed = `, emailed (send_email ${emailTaskId})`;
        }
        if (mailDir) {
          const file = await findMail(mailDir, new RegExp(`^Subject: tq demo ${run}: your report`, 'im'));
          if (!file) return undefined;
          mailed = `${mailed || ', emailed'} as ${displayPath(file)}`;
        }
        return `s3://${bucket}/${folder}/report.pdf (${pdf['tq-pages']} pages)${mailed}`;
      },
    });
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

/** `tq demo`: one task of each type through the running system, and where each result is. */
/** The task types the demo sends one of each. */
const DEMO_TASKS = ['send_email', 'process_image', 'cleanup_data', 'generate_report'] as const;

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
