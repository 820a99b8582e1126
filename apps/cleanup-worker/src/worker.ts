import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type CleanupDataV1, parseS3Uri } from '@tq/contracts';
import {
  createWorker,
  getS3Object,
  type HandlerContext,
  NonRetryableError,
  type Worker,
  type WorkerOptions,
} from '@tq/worker';
import { parse as parseCsv } from 'csv-parse/sync';
import { type Stringifier, stringify } from 'csv-stringify';
import { type MalformedRecord, type RawRecord, RecordSplitter } from './records.js';
import { Cleaner, neutralizeFormula } from './rules.js';

/** What `createCleanupWorker` takes. */
export interface CleanupWorkerDeps {
  /** Reads the source and writes the outputs. */
  s3: S3Client;
  /** Multipart upload part size in bytes (memory per output is about three times this). Default 5 MiB, the S3 minimum. */
  partSize?: number;
  /** Worker runtime options (queue, concurrency, logger, http, ...). */
  worker?: Omit<WorkerOptions<'cleanup_data'>, 'task' | 'handler'>;
}

/** The summary written as `summary.json` and returned as the task's result. */
export interface CleanupSummary {
  source: string;
  outputs: { cleaned: string; rejects: string; summary: string };
  columns: string[];
  /** Data records read (the header excluded), including empty, duplicate and rejected ones. */
  rowsIn: number;
  rowsOut: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  duplicatesRemoved: number;
  emptyRowsDropped: number;
}

/** Records handed to csv-parse at once: large enough to amortise the call, small enough to stay flat. */
const BATCH_RECORDS = 2000;

/** A CSV written to S3 as it is produced, by multipart upload. */
function csvUpload(s3: S3Client, bucket: string, key: string, columns: string[], partSize: number) {
  const stringifier: Stringifier = stringify({ header: true, columns, eof: true });
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: stringifier, ContentType: 'text/csv; charset=utf-8' },
    partSize,
    queueSize: 2,
    leavePartsOnError: false,
  });
  const done = upload.done();
  done.catch(() => undefined);
  return {
    async write(row: string[]): Promise<void> {
      if (!stringifier.write(row)) await once(stringifier, 'drain');
    },
    async finish(): Promise<void> {
      stringifier.end();
      await done;
    },
    async abort(): Promise<void> {
      stringifier.destroy();
      await upload.abort().catch(() => undefined);
    },
  };
}

/**
 * Cleans one CSV: streams it from S3, splits records (a malformed one becomes a reject with its
 * line number), lets csv-parse split the fields, applies the rules, and streams the cleaned CSV
 * and the rejects CSV (line, reason, original row) back to S3 by multipart upload, then writes
 * the summary. Memory stays flat whatever the file size (dedupe keeps one digest per distinct key).
 */
export async function cleanCsv(
  s3: S3Client,
  task: CleanupDataV1,
  options: { signal: AbortSignal; partSize?: number },
): Promise<CleanupSummary> {
  const { bucket, key: prefix } = parseS3Uri(task.destination);
  const keys = { cleaned: `${prefix}cleaned.csv`, rejects: `${prefix}rejects.csv`, summary: `${prefix}summary.json` };
  const uri = (key: string) => `s3://${bucket}/${key}`;
  const partSize = options.partSize ?? 5 * 1024 * 1024;
  const delimiter = task.delimiter ?? ',';
  const neutralize = task.rules.neutralizeFormulas ?? true;
  const csvOptions = {
    delimiter,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: false,
    record_delimiter: '\n',
  } as const;

  const source = (
    await getS3Object(s3, task.source, { signal: options.signal, code: 'SOURCE_MISSING', label: 'source' })
  ).Body as Readable;
  source.setEncoding('utf8');
  let cleaner: Cleaner | undefined;
  let cleaned: ReturnType<typeof csvUpload> | undefined;
  const rejects = csvUpload(s3, bucket, keys.rejects, ['line', 'reason', 'row'], partSize);
  const summary: CleanupSummary = {
    source: task.source,
    outputs: { cleaned: uri(keys.cleaned), rejects: uri(keys.rejects), summary: uri(keys.summary) },
    columns: [],
    rowsIn: 0,
    rowsOut: 0,
    rejected: 0,
    rejectedByReason: {},
    duplicatesRemoved: 0,
    emptyRowsDropped: 0,
  };

  let batch: (RawRecord | MalformedRecord)[] = [];
  const splitter = new RecordSplitter({
    delimiter,
    onRecord: (record) => batch.push(record),
    onMalformed: (record) => batch.push(record),
  });

  const reject = async (line: number, code: string, reason: string, text: string) => {
    summary.rejected += 1;
    summary.rejectedByReason[code] = (summary.rejectedByReason[code] ?? 0) + 1;
    await rejects.write([String(line), reason, neutralize ? neutralizeFormula(text) : text]);
  };

  const flush = async () => {
    const records = batch;
    batch = [];
    // csv-parse splits the fields of every well-formed, non-blank record of the batch in one call.
    const wellFormed = records.filter((record): record is RawRecord => !('reason' in record) && record.text !== '');
    const parsed: string[][] =
      wellFormed.length === 0 ? [] : parseCsv(wellFormed.map((r) => r.text).join('\n'), csvOptions);
    if (parsed.length !== wellFormed.length) {
      throw new Error(`csv-parse returned ${parsed.length} records for ${wellFormed.length}: please report this file`);
    }
    let next = 0;
    for (const record of records) {
      if ('reason' in record) {
        if (!cleaner) {
          throw new NonRetryableError(`the header (line ${record.line}) is not valid CSV: ${record.reason}`, {
            code: 'INVALID_HEADER',
          });
        }
        summary.rowsIn += 1;
        await reject(record.line, 'MALFORMED_ROW', record.reason, record.text);
        continue;
      }
      const cells = record.text === '' ? [''] : (parsed[next++] as string[]);
      if (!cleaner) {
        if (cells.length === 1 && cells[0] === '') continue; // blank lines before the header
        cleaner = new Cleaner(cells, task.rules);
        summary.columns = cleaner.outputHeader;
        cleaned = csvUpload(s3, bucket, keys.cleaned, cleaner.outputHeader, partSize);
        continue;
      }
      summary.rowsIn += 1;
      const outcome = cleaner.clean(cells);
      switch (outcome.kind) {
        case 'kept':
          summary.rowsOut += 1;
          await cleaned?.write(outcome.cells);
          break;
        case 'empty':
          summary.emptyRowsDropped += 1;
          break;
        case 'duplicate':
          summary.duplicatesRemoved += 1;
          break;
        case 'rejected':
          await reject(record.line, outcome.rejection.code, outcome.rejection.reason, record.text);
          break;
      }
    }
  };

  try {
    for await (const chunk of source) {
      options.signal.throwIfAborted();
      splitter.push(chunk as string);
      if (batch.length >= BATCH_RECORDS) await flush();
    }
    splitter.end();
    await flush();
    if (!cleaner || !cleaned) {
      throw new NonRetryableError(`${task.source} is empty: a CSV needs a header line`, { code: 'NO_HEADER' });
    }
    await Promise.all([cleaned.finish(), rejects.finish()]);
  } catch (error) {
    source.destroy();
    await Promise.all([cleaned?.abort(), rejects.abort()]);
    throw error;
  }
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: keys.summary,
      Body: `${JSON.stringify(summary, null, 2)}\n`,
      ContentType: 'application/json',
    }),
    { abortSignal: options.signal },
  );
  return summary;
}

/**
 * Creates the `cleanup_data` worker (see `cleanCsv`). A missing or unreadable source, a file
 * without a header, or rules naming columns the file lacks are dead-lettered with the reason;
 * malformed rows are rejects, not failures; S3 outages are retried.
 */
export function createCleanupWorker(deps: CleanupWorkerDeps): Worker<'cleanup_data'> {
  const handler = (task: CleanupDataV1, context: HandlerContext<'cleanup_data'>) =>
    cleanCsv(deps.s3, task, { signal: context.signal, ...(deps.partSize ? { partSize: deps.partSize } : {}) });
  return createWorker({ ...deps.worker, task: 'cleanup_data', handler });
}
