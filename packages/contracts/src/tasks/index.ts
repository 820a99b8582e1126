import type { Violation } from '../errors.js';
import { defineTask } from '../registry.js';
import { CleanupDataV1 } from './cleanup-data.js';
import { GenerateReportV1 } from './generate-report.js';
import { ProcessImageV1 } from './process-image.js';
import { SendEmailV1 } from './send-email.js';

export { CleanupDataV1, CleanupRules, ColumnRule } from './cleanup-data.js';
export {
  AggregateFunction,
  type ExampleSalesReportOptions,
  exampleSalesReport,
  GenerateReportV1,
  ReportAggregate,
  ReportChart,
  ReportColumn,
} from './generate-report.js';
export { ImageVariant, ProcessImageV1 } from './process-image.js';
export { EmailAttachment, SendEmailV1 } from './send-email.js';

function duplicates(values: unknown, path: string, key: (item: Record<string, unknown>) => unknown): Violation[] {
  if (!Array.isArray(values)) return [];
  const seen = new Set<unknown>();
  const found: Violation[] = [];
  values.forEach((item, index) => {
    if (typeof item !== 'object' || item === null) return;
    const value = key(item as Record<string, unknown>);
    if (seen.has(value)) found.push({ path: `${path}/${index}`, message: `duplicate name ${JSON.stringify(value)}` });
    seen.add(value);
  });
  return found;
}

/** `send_email`: one email through SMTP. */
export const sendEmail = defineTask({
  name: 'send_email',
  description: 'Sends one email through SMTP: to/cc/bcc, subject, text and/or html, attachments from S3.',
  versions: {
    1: {
      schema: SendEmailV1,
      refine: (p) =>
        p.text === undefined && p.html === undefined ? [{ path: '', message: 'needs text, html or both' }] : [],
      // The seed article's form: {"task":"send_email","to":"a@b.c","from":..,"subject":..,"body":..}
      fromFlat: ({ body, to, cc, bcc, ...rest }) => {
        // One address string may hold several, comma-separated as PHP's mail() takes them (commas
        // inside a quoted display name do not separate).
        const list = (value: unknown) =>
          typeof value === 'string'
            ? value
                .split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)
                .map((address) => address.trim())
                .filter((address) => address !== '')
            : value;
        const payload: Record<string, unknown> = { ...rest, to: list(to) };
        if (cc !== undefined) payload.cc = list(cc);
        if (bcc !== undefined) payload.bcc = list(bcc);
        if (body !== undefined && payload.text === undefined) payload.text = body;
        return payload;
      },
      // Back to that form: one address string per list (as PHP's mail() takes it), the text as `body`.
      toFlat: ({ to, cc, bcc, text, ...rest }) => {
        const joined = (value: unknown) => (Array.isArray(value) ? value.join(', ') : value);
        const flat: Record<string, unknown> = { ...rest, to: joined(to) };
        if (cc !== undefined) flat.cc = joined(cc);
        if (bcc !== undefined) flat.bcc = joined(bcc);
        if (text !== undefined) flat.body = text;
        return flat;
      },
    },
  },
  queue: { visibilityTimeoutSeconds: 60, maxReceiveCount: 5 },
  worker: { concurrency: 10 },
  // One mail per task however often SQS delivers it.
  idempotency: true,
  // It reads attachments and writes nothing.
  s3Writes: false,
  scaling: { secondsPerMessage: 1, maxTasks: 4 },
});

/** `process_image`: image variants with sharp. */
export const processImage = defineTask({
  name: 'process_image',
  description: 'Reads an image from S3 and writes resized/re-encoded variants back to S3.',
  versions: {
    1: { schema: ProcessImageV1, refine: (p) => duplicates(p.variants, '/variants', (v) => v.name) },
  },
  queue: { visibilityTimeoutSeconds: 120, maxReceiveCount: 3 },
  // CPU-bound: one image per core.
  worker: { concurrency: 'cores', handlerTimeoutMs: 5 * 60_000 },
  scaling: { secondsPerMessage: 2, cpu: 1024, memoryMiB: 2048 },
});

/** `cleanup_data`: CSV cleaning. */
export const cleanupData = defineTask({
  name: 'cleanup_data',
  description: 'Streams a CSV from S3 through cleaning rules; writes cleaned rows, rejected rows and a summary.',
  versions: { 1: { schema: CleanupDataV1 } },
  queue: { visibilityTimeoutSeconds: 300, maxReceiveCount: 3 },
  worker: { concurrency: 2, handlerTimeoutMs: 60 * 60_000 },
  scaling: { secondsPerMessage: 30, cpu: 1024, memoryMiB: 2048 },
});

/** `generate_report`: a PDF report. */
export const generateReport = defineTask({
  name: 'generate_report',
  description: 'Renders a PDF report (table, aggregates, chart) from rows or a CSV to S3; can email it.',
  versions: {
    1: {
      schema: GenerateReportV1,
      refine: (p) => {
        const found: Violation[] = [];
        if ((p.rows === undefined) === (p.source === undefined)) {
          found.push({ path: '', message: 'needs exactly one of rows and source' });
        }
        const chart = p.chart as { aggregate?: unknown } | undefined;
        const aggregates = Array.isArray(p.aggregates) ? p.aggregates.length : 0;
        if (chart !== undefined && p.groupBy === undefined) {
          found.push({ path: '/chart', message: 'a chart needs groupBy' });
        }
        if (chart !== undefined && typeof chart.aggregate === 'number' && chart.aggregate >= aggregates) {
          found.push({ path: '/chart/aggregate', message: `must index one of the ${aggregates} aggregates` });
        }
        return found;
      },
    },
  },
  queue: { visibilityTimeoutSeconds: 300, maxReceiveCount: 3 },
  worker: { concurrency: 2, handlerTimeoutMs: 10 * 60_000 },
  // A duplicate delivery answers from the idempotency record: no second render, no second mail.
  idempotency: true,
  // It can mail the report: a chained send_email.
  sends: ['send_email'],
  scaling: { secondsPerMessage: 5 },
});

/** The four built-in task types, in DESIGN.md's order. */
export const builtinTasks = [sendEmail, processImage, cleanupData, generateReport] as const;
