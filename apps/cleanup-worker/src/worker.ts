import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CleanupDataV1 } from '@tq/contracts';
import {
  checkS3Location,
  createWorker,
  type HandlerContext,
  NonRetryableError,
  openS3Input,
  resolveS3Allow,
  type S3AllowList,
  s3WriteFailure,
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
  /** Where sources may be read and outputs written; default `TQ_S3_ALLOW`, else the artifacts bucket. */
  s3Allow?: S3AllowList | readonly string[];
  /** Bounds of one task (see `CleanupLimits`). */
  limits?: Partial<CleanupLimits>;
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

/** What one `cleanup_data` task may cost at most; past a bound the task is dead-lettered with its code. */
export interface CleanupLimits {
  /** Largest source file in bytes (`SOURCE_TOO_LARGE`). Default 1 GiB. */
  maxBytes: number;
  /** Most data rows (`TOO_MANY_ROWS`); also bounds dedupe memory (about 100 bytes per distinct key). Default 2,000,000. */
  maxRows: number;
  /** Most columns in the header (`TOO_MANY_COLUMNS`). Default 1,000. */
  maxColumns: number;
}

/** The default bounds (the README's "Limits and confinement" table). */
export const DEFAULT_CLEANUP_LIMITS: Readonly<CleanupLimits> = {
  maxBytes: 1024 * 1024 * 1024,
  maxRows: 2_000_000,
  maxColumns: 1_000,
};

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
  const failed = (error: unknown) => {
    throw s3WriteFailure(error, `s3://${bucket}/${key}`);
  };
  return {
    async writeRows(rows: string[][]): Promise<void> {
      if (rows.length === 0) return;
      const text = stringify(rows);
      await writer.write(header === undefined ? text : header + text).catch(failed);
      header = undefined;
    },
    async finish(): Promise<void> {
      if (header !== undefined) await writer.write(header).catch(failed);
      await writer.finish().catch(failed);
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
  options: { signal: AbortSignal; partSize?: number; allow: S3AllowList; limits?: Partial<CleanupLimits> },
): Promise<CleanupSummary> {
  const limits = { ...DEFAULT_CLEANUP_LIMITS, ...options.limits };
  // Both locations are checked before any S3 call.
  const { bucket, key: prefix } = checkS3Location(options.allow, task.destination, 'destination', { prefix: true });
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

  checkS3Location(options.allow, task.source, 'source');
  const source = (
    await openS3Input(s3, task.source, {
      allow: options.allow,
      label: 'source',
      code: 'SOURCE',
      maxBytes: limits.maxBytes,
      signal: options.signal,
    })
  ).body;
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
    // Codes carry column names, which may be any string (`constructor`, `__proto__`).
    rejectedByReason: Object.create(null) as Record<string, number>,
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
          if (cells.length > limits.maxColumns) {
            throw new NonRetryableError(
              `the header has ${cells.length} columns, over the limit of ${limits.maxColumns}`,
              {
                code: 'TOO_MANY_COLUMNS',
              },
            );
          }
          cleaner = new Cleaner(cells, task.rules);
          summary.columns = cleaner.outputHeader;
          cleaned = csvUpload(s3, bucket, keys.cleaned, cleaner.outputHeader, partSize, options.signal);
          continue;
        }
        summary.rowsIn += 1;
        if (summary.rowsIn > limits.maxRows) {
          throw new NonRetryableError(`${task.source} has more than ${limits.maxRows} rows`, { code: 'TOO_MANY_ROWS' });
        }
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
  await s3
    .send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: keys.summary,
        Body: `${JSON.stringify(summary, null, 2)}\n`,
        ContentType: 'application/json',
      }),
      { abortSignal: options.signal },
    )
    .catch((error: unknown) => {
      throw s3WriteFailure(error, uri(keys.summary));
    });
  return summary;
}

/**
 * Creates the `cleanup_data` worker (see `cleanCsv`). A missing or unreadable source, a file
 * without a header, or rules naming columns the file lacks are dead-lettered with the reason;
 * malformed rows are rejects, not failures; S3 outages are retried.
 */
export function createCleanupWorker(deps: CleanupWorkerDeps): Worker<'cleanup_data'> {
  const allow = resolveS3Allow(deps.s3Allow ?? deps.worker?.s3Allow, { prefix: deps.worker?.prefix });
  const handler = (task: CleanupDataV1, context: HandlerContext<'cleanup_data'>) =>
    cleanCsv(deps.s3, task, {
      signal: context.signal,
      allow,
      ...(deps.limits ? { limits: deps.limits } : {}),
      ...(deps.partSize ? { partSize: deps.partSize } : {}),
    });
  return createWorker({ ...deps.worker, s3Allow: allow, task: 'cleanup_data', handler });
}
