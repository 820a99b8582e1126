import type { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
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
import { stringify } from 'csv-stringify/sync';
import { type MalformedRecord, type RecordRun, RecordSplitter, recordText } from './records.js';
import { Cleaner, neutralizeFormula } from './rules.js';
import { PartWriter } from './upload.js';

/** What `createCleanupWorker` takes. */
export interface CleanupWorkerDeps {
  /** Reads the source and writes the outputs. */
  s3: S3Client;
  /** Multipart upload part size in bytes, at least 5 MiB (the default): each output holds at most two parts in memory. */
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

/** Records gathered before they are parsed, cleaned and written: large enough to amortise each step, small enough to stay flat. */
const BATCH_RECORDS = 2000;

/**
 * A CSV written to S3 as it is produced, by multipart upload. Rows come a batch at a time and
 * csv-stringify turns each batch into one piece of text: no stream call per row.
 */
function csvUpload(
  s3: S3Client,
  bucket: string,
  key: string,
  columns: string[],
  partSize: number,
  signal: AbortSignal,
) {
  const writer = new PartWriter(s3, { bucket, key, contentType: 'text/csv; charset=utf-8', partSize, signal });
  let header: string | undefined = stringify([columns]);
  return {
    async writeRows(rows: string[][]): Promise<void> {
      if (rows.length === 0) return;
      const text = stringify(rows);
      await writer.write(header === undefined ? text : header + text);
      header = undefined;
    },
    async finish(): Promise<void> {
      if (header !== undefined) await writer.write(header);
      await writer.finish();
    },
    abort: () => writer.abort(),
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
    record_delimiter: ['\r\n', '\n'],
  };

  const source = (
    await getS3Object(s3, task.source, { signal: options.signal, code: 'SOURCE_MISSING', label: 'source' })
  ).Body as Readable;
  let cleaner: Cleaner | undefined;
  let cleaned: ReturnType<typeof csvUpload> | undefined;
  const rejects = csvUpload(s3, bucket, keys.rejects, ['line', 'reason', 'row'], partSize, options.signal);
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

  // Runs of well-formed records (bytes as in the file) and malformed ones, in file order.
  let batch: (RecordRun | MalformedRecord)[] = [];
  let batchRecords = 0;
  const splitter = new RecordSplitter({
    delimiter,
    onRun: (run) => {
      batch.push(run);
      batchRecords += run.starts.length;
    },
    onMalformed: (record) => {
      batch.push(record);
      batchRecords += 1;
    },
  });

  const kept: string[][] = [];
  const rejected: string[][] = [];
  const reject = (line: number, code: string, reason: string, text: string) => {
    summary.rejected += 1;
    summary.rejectedByReason[code] = (summary.rejectedByReason[code] ?? 0) + 1;
    rejected.push([String(line), reason, neutralize ? neutralizeFormula(text) : text]);
  };

  const flush = async () => {
    const segments = batch;
    batch = [];
    batchRecords = 0;
    for (const segment of segments) {
      if ('reason' in segment) {
        if (!cleaner) {
          throw new NonRetryableError(`the header (line ${segment.line}) is not valid CSV: ${segment.reason}`, {
            code: 'INVALID_HEADER',
          });
        }
        summary.rowsIn += 1;
        reject(segment.line, 'MALFORMED_ROW', segment.reason, segment.text);
        continue;
      }
      // csv-parse splits the fields of a whole run in one call, straight from the file's bytes.
      const parsed = parseCsv(segment.data, csvOptions) as string[][];
      if (parsed.length !== segment.starts.length) {
        throw new Error(
          `csv-parse returned ${parsed.length} records for ${segment.starts.length}: please report this file`,
        );
      }
      for (let i = 0; i < parsed.length; i += 1) {
        const cells = parsed[i] as string[];
        if (!cleaner) {
          if (cells.length === 1 && cells[0] === '') continue; // blank lines before the header
          cleaner = new Cleaner(cells, task.rules);
          summary.columns = cleaner.outputHeader;
          cleaned = csvUpload(s3, bucket, keys.cleaned, cleaner.outputHeader, partSize, options.signal);
          continue;
        }
        summary.rowsIn += 1;
        const outcome = cleaner.clean(cells);
        switch (outcome.kind) {
          case 'kept':
            summary.rowsOut += 1;
            kept.push(outcome.cells);
            break;
          case 'empty':
            summary.emptyRowsDropped += 1;
            break;
          case 'duplicate':
            summary.duplicatesRemoved += 1;
            break;
          case 'rejected':
            reject(
              segment.lines[i] as number,
              outcome.rejection.code,
              outcome.rejection.reason,
              recordText(segment, i),
            );
            break;
        }
      }
    }
    await Promise.all([cleaned?.writeRows(kept.splice(0)), rejects.writeRows(rejected.splice(0))]);
  };

  try {
    for await (const chunk of source) {
      options.signal.throwIfAborted();
      splitter.push(chunk as Buffer);
      if (batchRecords >= BATCH_RECORDS) await flush();
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
