// The demo's tasks: one of each example type, its sample inputs, and how to tell it is done.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { exampleSalesReport, type TaskName } from '@tq/contracts';
import type { Producer } from '@tq/producer-sdk';
import type { StatusReader, TaskStatus } from '@tq/status';
import type { CliContext } from '../context.js';
import { displayPath } from '../local-stack.js';

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

export const SAMPLE_CSV = [
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

export interface DemoTask {
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
export async function findMail(dir: string, header: RegExp): Promise<string | undefined> {
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

/** One demo run: where its files go and what its tasks are checked with. */
export interface DemoRun {
  context: CliContext;
  producer: Producer;
  bucket: string;
  /** `demo/<run>` in the bucket. */
  folder: string;
  /** The run's timestamp, in titles and subjects. */
  run: string;
  /** The demo's mail address. */
  to: string;
  /** Where the SMTP sink writes mails, when known. */
  mailDir: string | undefined;
  /** The status reader while the status table answers. */
  reader(): StatusReader | undefined;
}

/** Sends one task of each example type; resolves with how to tell each is done. */
export async function sendDemoTasks(demo: DemoRun): Promise<DemoTask[]> {
  return [await demoEmail(demo), await demoImage(demo), await demoCleanup(demo), await demoReport(demo)];
}

/** A mail to the demo address: done when sent (and, with the SMTP sink, its .eml file found). */
async function demoEmail(demo: DemoRun): Promise<DemoTask> {
  const { producer, run, to, mailDir } = demo;
  const email = await producer.send('send_email', {
    to: [to],
    subject: `tq demo ${run}: hello`,
    text: 'Sent through SNS, the send_email queue and the email worker.',
  });
  return {
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
  };
}

/** Two variants of the sample photo: done when both are in the bucket, whatever the status says. */
async function demoImage(demo: DemoRun): Promise<DemoTask> {
  const { context, producer, bucket, folder } = demo;
  const image = await producer.send('process_image', {
    source: `s3://${bucket}/${folder}/photo.png`,
    destination: `s3://${bucket}/${folder}/images/`,
    variants: [
      { name: 'thumb', width: 200, height: 200, fit: 'cover', format: 'webp', quality: 80 },
      { name: 'medium', width: 800, format: 'jpeg', quality: 82 },
    ],
  });
  return {
    task: 'process_image',
    id: image.id,
    check: async () => {
      // The variants are the result: they must be there whatever the status says.
      const thumb = await exists(context, bucket, `${folder}/images/thumb.webp`);
      const medium = await exists(context, bucket, `${folder}/images/medium.jpg`);
      if (!thumb || !medium) return undefined;
      return `s3://${bucket}/${folder}/images/thumb.webp (${thumb['tq-width']}x${thumb['tq-height']}), medium.jpg (${medium['tq-width']}x${medium['tq-height']})`;
    },
  };
}

/** The sample CSV cleaned: done when its summary is in the bucket. */
async function demoCleanup(demo: DemoRun): Promise<DemoTask> {
  const { context, producer, bucket, folder } = demo;
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
  return {
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
  };
}

/** A report PDF from 120 rows, mailed: done when the PDF and its chained mail are. */
async function demoReport(demo: DemoRun): Promise<DemoTask> {
  const { context, producer, bucket, folder, run, to, mailDir } = demo;
  const report = await producer.send('generate_report', {
    ...exampleSalesReport({
      title: `Demo sales report ${run}`,
      subtitle: 'Generated by tq demo — 演示报告',
      rows: 120,
      destination: `s3://${bucket}/${folder}/report.pdf`,
    }),
    email: { to: [to], subject: `tq demo ${run}: your report` },
  });
  return {
    task: 'generate_report',
    id: report.id,
    check: async (status) => {
      const pdf = await exists(context, bucket, `${folder}/report.pdf`);
      if (!pdf) return undefined;
      let mailed = '';
      const emailTaskId = (status?.result as { emailTaskId?: string } | undefined)?.emailTaskId;
      if (emailTaskId) {
        // The report chains a send_email task: it is done when that one is.
        const chained = await demo
          .reader()
          ?.get(emailTaskId)
          .catch(() => undefined);
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
  };
}
