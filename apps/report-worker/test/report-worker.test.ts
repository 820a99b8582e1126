import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createTask, encodeMessageBody, exampleSalesReport, type TaskPayloads } from '@tq/contracts';
import { createEmailWorker } from '@tq/email-worker';
import { createProducer, type Producer } from '@tq/producer-sdk';
import { createIdempotencyStore, ensureIdempotencyTable, type IdempotencyStore } from '@tq/status';
import {
  createTestBucket,
  type SmtpSink,
  startSmtpSink,
  type TestBucket,
  testBucket,
  testWorkerOptions,
  uniqueName,
} from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createProvisioner, defineTopology } from '@tq/topology';
import type { Worker, WorkerEvents } from '@tq/worker';
import { PDFParse } from 'pdf-parse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReportWorker, type ReportResult } from '../src/worker.js';

type Report = TaskPayloads['generate_report'];

const REGIONS = ['north', 'south', 'east', 'west', 'central'];
const ROWS = Array.from({ length: 5000 }, (_, i) => ({
  region: REGIONS[i % REGIONS.length] as string,
  product: `product-${i % 37}`,
  units: (i % 13) + 1,
  revenue: Math.round(((i * 7919) % 100_000) + 50) / 100,
}));
const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const num = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

function expectedTotals(rows: typeof ROWS) {
  const revenue = rows.reduce((sum, row) => sum + row.revenue, 0);
  const units = rows.reduce((sum, row) => sum + row.units, 0);
  const byRegion = new Map<string, number>();
  for (const row of rows) byRegion.set(row.region, (byRegion.get(row.region) ?? 0) + row.revenue);
  return { revenue, units, byRegion };
}

function baseReport(bucket: string, key: string): Report {
  return {
    ...exampleSalesReport({ title: '季度销售报告 Q3 — Quarterly sales', destination: `s3://${bucket}/${key}` }),
    subtitle: 'ひらがな・カタカナ・漢字 all render',
    aggregates: [
      { column: 'product', fn: 'count', label: 'Orders' },
      { column: 'units', fn: 'sum', label: 'Units sold' },
      { column: 'revenue', fn: 'sum', label: 'Revenue' },
      { column: 'revenue', fn: 'avg', label: 'Average' },
      { column: 'revenue', fn: 'max', label: 'Largest' },
    ],
    chart: { type: 'bar', aggregate: 2, title: '收入 by region' },
  };
}

function events<E extends keyof WorkerEvents>(worker: Worker, event: E) {
  const items: WorkerEvents[E][0][] = [];
  worker.on(event, ((data: WorkerEvents[E][0]) => items.push(data)) as never);
  return {
    items,
    next: (count = 1) =>
      new Promise<WorkerEvents[E][0][]>((resolve) => {
        const check = () => (items.length >= count ? resolve(items) : setTimeout(check, 20));
        check();
      }),
  };
}

describe('report worker: PDFs read back', () => {
  const local = useLocalEndpoint();
  let files: TestBucket;
  let smtp: SmtpSink;
  let producer: Producer;
  let reportWorker: Worker<'generate_report'>;
  let emailWorker: Worker<'send_email'>;
  let queueUrl: string;
  const prefix = uniqueName('rep');
  const bucket = `${prefix.toLowerCase()}-artifacts`.slice(0, 63);
  let succeeded: ReturnType<typeof events<'succeeded'>>;
  let deadLettered: ReturnType<typeof events<'dead-lettered'>>;
  let mailed: ReturnType<typeof events<'succeeded'>>;
  let idempotency: IdempotencyStore;

  beforeAll(async () => {
    const { sqs, sns, s3, endpoint } = local;
    await createProvisioner({ sqs, sns, s3, topology: defineTopology({ prefix, bucket }) }).apply();
    files = testBucket(s3, bucket);
    queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-generate_report` }))).QueueUrl as string;
    smtp = await startSmtpSink();
    producer = createProducer({ sqs, s3, sns, prefix });
    // As the apps run: both guard their effects with idempotency records.
    idempotency = createIdempotencyStore({ endpoint: endpoint.endpoint, prefix });
    await ensureIdempotencyTable(idempotency.dynamodb, idempotency.tableName);
    const common = {
      sqs,
      prefix,
      ...testWorkerOptions(),
      // A short lease: a duplicate that arrives while the first delivery runs comes back within 5 s.
      idempotency: { store: idempotency, leaseSeconds: 5 },
    };
    reportWorker = createReportWorker({
      s3,
      producer,
      s3Allow: [bucket, 'no-such-bucket-tq'],
      limits: { maxRows: 10_000, maxBytes: 1024 * 1024, maxColumns: 6 },
      worker: { ...common, concurrency: 2 },
    });
    emailWorker = createEmailWorker({
      s3,
      s3Allow: [bucket],
      smtp: smtp.url,
      from: 'Reports <reports@acme.example>',
      worker: common,
    });
    succeeded = events(reportWorker, 'succeeded');
    deadLettered = events(reportWorker, 'dead-lettered');
    mailed = events(emailWorker, 'succeeded');
    await Promise.all([reportWorker.start(), emailWorker.start()]);
  });
  afterAll(async () => {
    await Promise.all([reportWorker?.stop(), emailWorker?.stop()]);
    await producer?.close();
    idempotency?.close();
    await smtp?.stop();
  });

  async function run(report: Report): Promise<{ id: string; result?: ReportResult; code?: string; reason?: string }> {
    const task = createTask('generate_report', report);
    await local.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: encodeMessageBody(task) }));
    for (;;) {
      const done = succeeded.items.find((item) => item.id === task.id);
      if (done) return { id: task.id, result: done.result as ReportResult };
      const dead = deadLettered.items.find((item) => item.id === task.id);
      if (dead) return { id: task.id, code: dead.code, reason: dead.reason };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function readPdf(key: string) {
    const object = await files.get(key);
    const { data } = object;
    const parser = new PDFParse({ data });
    const text = await parser.getText();
    await parser.destroy();
    return { object, data, text };
  }

  it('renders 5,000 rows: correct totals, headers on every table page, page numbers, CJK text', async () => {
    const { result } = await run({ ...baseReport(bucket, 'reports/inline.pdf'), rows: ROWS });
    expect(result).toMatchObject({ rows: 5000, groups: 5, destination: `s3://${bucket}/reports/inline.pdf` });
    const { object, text } = await readPdf('reports/inline.pdf');
    expect(object.contentType).toBe('application/pdf');
    expect(object.metadata['tq-rows']).toBe('5000');
    expect(text.total).toBe(result?.pages);
    expect(text.total).toBeGreaterThan(50);

    expect(text.pages[0]?.text).toContain('季度销售报告 Q3 — Quarterly sales');
    expect(text.pages[0]?.text).toContain('ひらがな・カタカナ・漢字 all render');
    for (const page of text.pages) {
      expect(page.text).toContain(`Page ${page.num} of ${text.total}`);
    }
    // Every page holding data rows starts its table with the header row.
    const tablePages = text.pages.filter((page) => /product-\d+/.test(page.text));
    expect(tablePages.length).toBe(text.total - 1);
    for (const page of tablePages) expect(page.text).toMatch(/Region\s+Product\s+Units\s+Revenue/);

    const totals = expectedTotals(ROWS);
    const summary = text.pages.at(-1)?.text ?? '';
    expect(summary).toContain('Summary by Region');
    expect(summary).toMatch(
      new RegExp(
        `Total\\s+5,000\\s+${num.format(totals.units).replace(',', ',')}\\s+${escapeRegExp(usd.format(totals.revenue))}`,
      ),
    );
    for (const [region, revenue] of totals.byRegion) {
      expect(summary).toMatch(new RegExp(`${region}\\s+1,000\\s+[\\d,]+\\s+${escapeRegExp(usd.format(revenue))}`));
    }
    expect(summary).toContain('收入 by region');
  });

  it('streams the same data from a CSV in S3 (with a BOM) to the same totals', async () => {
    const header = 'region,product,units,revenue';
    const csv = `\uFEFF${header}\n${ROWS.map((r) => `${r.region},${r.product},${r.units},${r.revenue}`).join('\n')}\n`;
    await files.put('data/sales.csv', csv);
    const { result } = await run({ ...baseReport(bucket, 'reports/csv.pdf'), source: `s3://${bucket}/data/sales.csv` });
    expect(result).toMatchObject({ rows: 5000, groups: 5 });
    const { text } = await readPdf('reports/csv.pdf');
    const totals = expectedTotals(ROWS);
    expect(text.pages.at(-1)?.text).toContain(usd.format(totals.revenue));
  });

  it('emails the report through the same queues with the PDF attached', async () => {
    const { result, id } = await run({
      ...baseReport(bucket, 'reports/mailed.pdf'),
      rows: ROWS.slice(0, 300),
      email: { to: ['cfo@example.com'], subject: 'Q3 numbers' },
    });
    expect(result?.emailTaskId).toBeDefined();
    const [mail] = await smtp.waitFor(1, { where: (m) => m.parsed.subject === 'Q3 numbers' });
    const { data } = await readPdf('reports/mailed.pdf');
    const attachment = mail?.parsed.attachments[0];
    expect(attachment?.filename).toBe('mailed.pdf');
    expect(attachment?.contentType).toBe('application/pdf');
    expect(attachment?.content.equals(data)).toBe(true);
    expect(mail?.parsed.messageId).toBe(`<${result?.emailTaskId}@acme.example>`);
    expect(mail?.envelope.to).toEqual(['cfo@example.com']);
    expect(id).not.toBe(result?.emailTaskId);
  });

  it('a report delivered twice renders once; re-run after a crash, its chained mail is still sent once', async () => {
    const task = createTask('generate_report', {
      ...baseReport(bucket, 'reports/once.pdf'),
      rows: ROWS.slice(0, 50),
      email: { to: ['ceo@example.com'], subject: 'Once only' },
    });
    const send = () =>
      local.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: encodeMessageBody(task) }));
    const settled = async (count: number) => {
      for (;;) {
        const items = succeeded.items.filter((item) => item.id === task.id);
        if (items.length >= count) return items;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await send();
    await send();
    const [first, second] = await settled(2);
    expect(second).toMatchObject({ duplicate: true, result: first?.result as object });
    const emailTaskId = (first?.result as ReportResult | undefined)?.emailTaskId as string;
    await smtp.waitFor(1, { where: (mail) => mail.parsed.subject === 'Once only' });

    // A crash after the chained send, before the report's record was written: the report runs again
    // and sends its mail task again (same derived id and idempotency key); the email worker's
    // record answers it.
    await idempotency.dynamodb.send(
      new DeleteItemCommand({ TableName: idempotency.tableName, Key: { key: { S: `generate_report#${task.id}` } } }),
    );
    await send();
    const third = (await settled(3))[2];
    expect(third?.duplicate).toBeUndefined();
    expect((third?.result as ReportResult | undefined)?.emailTaskId).toBe(emailTaskId);
    for (;;) {
      const deliveries = mailed.items.filter((item) => item.id === emailTaskId);
      if (deliveries.length >= 2) {
        expect(deliveries.map((item) => item.duplicate ?? false)).toEqual([false, true]);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(smtp.messages.filter((mail) => mail.parsed.subject === 'Once only')).toHaveLength(1);
  });

  it('dead-letters bad input with the reason: missing source, malformed CSV, missing column, non-numeric data', async () => {
    await files.put('data/broken.csv', 'region,product,units,revenue\nnorth,"unclosed,1,2\nsouth,b,1,2\n');
    await files.put('data/narrow.csv', 'region,units\nnorth,1\n');
    const missing = await run({ ...baseReport(bucket, 'x.pdf'), source: `s3://${bucket}/data/nope.csv` });
    expect(missing).toMatchObject({ code: 'SOURCE_MISSING' });
    const malformed = await run({ ...baseReport(bucket, 'x.pdf'), source: `s3://${bucket}/data/broken.csv` });
    expect(malformed.code).toBe('MALFORMED_CSV');
    expect(malformed.reason).toMatch(/line \d/);
    const narrow = await run({ ...baseReport(bucket, 'x.pdf'), source: `s3://${bucket}/data/narrow.csv` });
    expect(narrow.code).toBe('MISSING_COLUMN');
    expect(narrow.reason).toContain('"product"');
    const words = await run({
      ...baseReport(bucket, 'x.pdf'),
      rows: [{ region: 'north', product: 'a', units: 'many', revenue: 1 }],
    });
    expect(words).toMatchObject({ code: 'INVALID_DATA' });
    expect(words.reason).toContain('row 1, column "units": "many" is not a number');
  });

  it('stays inside its allow-list and its bounds: nothing read or written elsewhere, big or wide CSVs refused', async () => {
    const other = `${bucket.slice(0, 50)}-other`;
    const others = await createTestBucket(local.s3, { name: other });
    await others.put('secret.csv', 'region,product,units,revenue\n');
    const stolen = await run({ ...baseReport(bucket, 'stolen.pdf'), source: `s3://${other}/secret.csv` });
    expect(stolen).toMatchObject({ code: 'LOCATION_NOT_ALLOWED' });
    const planted = await run({ ...baseReport(other, 'planted.pdf'), rows: ROWS.slice(0, 3) });
    expect(planted).toMatchObject({ code: 'LOCATION_NOT_ALLOWED' });
    expect(planted.reason).toContain(`destination s3://${other}/planted.pdf is outside`);
    expect(await others.count('planted.pdf')).toBe(0);
    expect(await files.count('stolen.pdf')).toBe(0);

    await files.put('data/wide.csv', 'region,product,units,revenue,a,b,c\n');
    await files.put('data/big.csv', `region,product,units,revenue\n${'north,p,1,2\n'.repeat(100_000)}`);
    const wide = await run({ ...baseReport(bucket, 'x.pdf'), source: `s3://${bucket}/data/wide.csv` });
    expect(wide).toMatchObject({ code: 'TOO_MANY_COLUMNS' });
    const big = await run({ ...baseReport(bucket, 'x.pdf'), source: `s3://${bucket}/data/big.csv` });
    expect(big).toMatchObject({ code: 'SOURCE_TOO_LARGE' });
    const nowhere = await run({ ...baseReport('no-such-bucket-tq', 'x.pdf'), rows: ROWS.slice(0, 3) });
    expect(nowhere).toMatchObject({ code: 'DESTINATION_UNWRITABLE' });
  });

  it('reports on columns named after JavaScript built-ins (constructor, toString, __proto__) like any other', async () => {
    const csv = 'constructor,toString,__proto__\nnorth,a,10\nsouth,b,5\nnorth,c,7\n';
    await files.put('data/builtins.csv', csv);
    const report: Report = {
      title: 'Built-ins',
      columns: [
        { key: 'constructor', label: 'Region' },
        { key: 'toString', label: 'Item' },
        { key: '__proto__', label: 'Amount', format: 'number' },
      ],
      groupBy: 'constructor',
      aggregates: [
        { column: '__proto__', fn: 'sum', label: 'Total' },
        { column: 'toString', fn: 'count', label: 'Items' },
      ],
      destination: `s3://${bucket}/reports/builtins.pdf`,
      source: `s3://${bucket}/data/builtins.csv`,
    };
    const fromCsv = await run(report);
    expect(fromCsv.result).toMatchObject({ rows: 3, groups: 2 });
    const { text } = await readPdf('reports/builtins.pdf');
    expect(text.text).toMatch(/north\s+17\s+2/);
    expect(text.text).toMatch(/south\s+5\s+1/);
    expect(text.text).not.toMatch(/function|native code|object Object/);

    // Inline rows as they arrive from the queue (parsed JSON: "__proto__" is an own key), and a
    // column no row has: `valueOf` is missing, not Object.prototype.valueOf.
    const inline = JSON.parse(
      JSON.stringify({
        ...report,
        source: undefined,
        destination: `s3://${bucket}/reports/inline-builtins.pdf`,
      }).replace('"title"', '"rows":[{"constructor":"north","toString":"a","__proto__":3}],"title"'),
    ) as Report;
    expect((await run(inline)).result).toMatchObject({ rows: 1, groups: 1 });
    const missing = await run({ ...report, columns: [{ key: 'valueOf' }] });
    expect(missing).toMatchObject({ code: 'MISSING_COLUMN' });
    expect(missing.reason).toContain('"valueOf"');
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\$]/g, '\\$&');
}
