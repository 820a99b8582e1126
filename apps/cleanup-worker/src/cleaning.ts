import type { S3Client } from '@aws-sdk/client-s3';
import type { CleanupDataV1 } from '@tq/contracts';
import { NonRetryableError, s3WriteFailure } from '@tq/worker';
import { type Options as CsvParseOptions, parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { type MalformedRecord, type RecordRun, recordText } from './records.js';
import { Cleaner, neutralizeFormula } from './rules.js';
import { PartWriter } from './upload.js';
import type { CleanupLimits, CleanupSummary } from './worker.js';

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

/** Where one task's outputs go. */
interface CleaningTarget {
  s3: S3Client;
  bucket: string;
  keys: { cleaned: string; rejects: string; summary: string };
  uri: (key: string) => string;
  partSize: number;
  signal: AbortSignal;
  task: CleanupDataV1;
  limits: CleanupLimits;
}

/**
 * One CSV being cleaned: takes the splitter's runs of records and malformed records in file
 * order, a batch at a time; the first record is the header (it sets up the rules and the cleaned
 * output), each later one is kept, dropped as empty or duplicate, or rejected with its line and
 * reason. Counts go into `summary`; the outputs are written as each batch is flushed.
 */
export class CsvCleaning {
  readonly summary: CleanupSummary;
  readonly #target: CleaningTarget;
  readonly #csvOptions: CsvParseOptions;
  readonly #neutralize: boolean;
  readonly #rejects: ReturnType<typeof csvUpload>;
  #cleaner: Cleaner | undefined;
  #cleaned: ReturnType<typeof csvUpload> | undefined;
  /** Runs of well-formed records (bytes as in the file) and malformed ones, in file order. */
  #batch: (RecordRun | MalformedRecord)[] = [];
  #batchRecords = 0;
  readonly #kept: string[][] = [];
  readonly #rejected: string[][] = [];

  constructor(target: CleaningTarget) {
    this.#target = target;
    const { task, keys, uri } = target;
    this.#csvOptions = {
      delimiter: task.delimiter ?? ',',
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: false,
      record_delimiter: ['\r\n', '\n'],
    };
    this.#neutralize = task.rules.neutralizeFormulas ?? true;
    this.#rejects = csvUpload(
      target.s3,
      target.bucket,
      keys.rejects,
      ['line', 'reason', 'row'],
      target.partSize,
      target.signal,
    );
    this.summary = {
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
  }

  /** Takes a run of records or a malformed record from the splitter. */
  readonly add = (segment: RecordRun | MalformedRecord): void => {
    this.#batch.push(segment);
    this.#batchRecords += 'reason' in segment ? 1 : segment.starts.length;
  };

  /** Whether enough records are gathered to clean and write them. */
  get full(): boolean {
    return this.#batchRecords >= BATCH_RECORDS;
  }

  /** Cleans the gathered records and writes their rows to the outputs. */
  async flush(): Promise<void> {
    const segments = this.#batch;
    this.#batch = [];
    this.#batchRecords = 0;
    for (const segment of segments) {
      if ('reason' in segment) this.#malformed(segment);
      else this.#run(segment);
    }
    await Promise.all([
      this.#cleaned?.writeRows(this.#kept.splice(0)),
      this.#rejects.writeRows(this.#rejected.splice(0)),
    ]);
  }

  /** Completes both uploads; a file without a header fails (`NO_HEADER`). */
  async finish(): Promise<void> {
    if (!this.#cleaner || !this.#cleaned) {
      throw new NonRetryableError(`${this.#target.task.source} is empty: a CSV needs a header line`, {
        code: 'NO_HEADER',
      });
    }
    await Promise.all([this.#cleaned.finish(), this.#rejects.finish()]);
  }

  /** Aborts both uploads (nothing half-written stays behind). */
  async abort(): Promise<void> {
    await Promise.all([this.#cleaned?.abort(), this.#rejects.abort()]);
  }

  #malformed(segment: MalformedRecord): void {
    if (!this.#cleaner) {
      throw new NonRetryableError(`the header (line ${segment.line}) is not valid CSV: ${segment.reason}`, {
        code: 'INVALID_HEADER',
      });
    }
    this.summary.rowsIn += 1;
    this.#reject(segment.line, 'MALFORMED_ROW', segment.reason, segment.text);
  }

  #run(segment: RecordRun): void {
    // csv-parse splits the fields of a whole run in one call, straight from the file's bytes.
    const parsed = parseCsv(segment.data, this.#csvOptions) as string[][];
    if (parsed.length !== segment.starts.length) {
      throw new Error(
        `csv-parse returned ${parsed.length} records for ${segment.starts.length}: please report this file`,
      );
    }
    for (let i = 0; i < parsed.length; i += 1) {
      const cells = parsed[i] as string[];
      if (!this.#cleaner) this.#header(cells);
      else this.#row(this.#cleaner, cells, segment, i);
    }
  }

  #header(cells: string[]): void {
    if (cells.length === 1 && cells[0] === '') return; // blank lines before the header
    const target = this.#target;
    const limits = target.limits;
    if (cells.length > limits.maxColumns) {
      throw new NonRetryableError(`the header has ${cells.length} columns, over the limit of ${limits.maxColumns}`, {
        code: 'TOO_MANY_COLUMNS',
      });
    }
    this.#cleaner = new Cleaner(cells, target.task.rules);
    this.summary.columns = this.#cleaner.outputHeader;
    this.#cleaned = csvUpload(
      target.s3,
      target.bucket,
      target.keys.cleaned,
      this.#cleaner.outputHeader,
      target.partSize,
      target.signal,
    );
  }

  #row(cleaner: Cleaner, cells: string[], segment: RecordRun, i: number): void {
    const summary = this.summary;
    summary.rowsIn += 1;
    if (summary.rowsIn > this.#target.limits.maxRows) {
      throw new NonRetryableError(`${this.#target.task.source} has more than ${this.#target.limits.maxRows} rows`, {
        code: 'TOO_MANY_ROWS',
      });
    }
    const outcome = cleaner.clean(cells);
    switch (outcome.kind) {
      case 'kept':
        summary.rowsOut += 1;
        this.#kept.push(outcome.cells);
        break;
      case 'empty':
        summary.emptyRowsDropped += 1;
        break;
      case 'duplicate':
        summary.duplicatesRemoved += 1;
        break;
      case 'rejected':
        this.#reject(
          segment.lines[i] as number,
          outcome.rejection.code,
          outcome.rejection.reason,
          recordText(segment, i),
        );
        break;
    }
  }

  #reject(line: number, code: string, reason: string, text: string): void {
    this.summary.rejected += 1;
    this.summary.rejectedByReason[code] = (this.summary.rejectedByReason[code] ?? 0) + 1;
    this.#rejected.push([String(line), reason, this.#neutralize ? neutralizeFormula(text) : text]);
  }
}
