import type { S3Client } from '@aws-sdk/client-s3';
import type { GenerateReportV1 } from '@tq/contracts';
import { type EnvNumberSpec, NonRetryableError, openS3Input, type S3AllowList, tableDefaults } from '@tq/worker';
import { CsvError, parse } from 'csv-parse';
import type { Cell } from './aggregate.js';

/** One data row with its 1-based number (for CSV: the line it ended on). */
export interface DataRow {
  number: number;
  values: Record<string, Cell>;
}

/** What one report may read at most; past a bound the task is dead-lettered with its code. */
export interface ReportLimits {
  /** Most data rows of a CSV source (`TOO_MANY_ROWS`). Default 100,000. */
  maxRows: number;
  /** Largest CSV source in bytes (`SOURCE_TOO_LARGE`). Default 64 MiB. */
  maxBytes: number;
  /** Most columns in a CSV source's header (`TOO_MANY_COLUMNS`). Default 1,000. */
  maxColumns: number;
}

/**
 * The one table of the bounds: default, allowed range and variable of each (the README's "Limits
 * and confinement" table). `main.ts` reads the variables with it.
 */
export const REPORT_LIMITS = {
  maxRows: { env: 'REPORT_MAX_ROWS', default: 100_000, min: 1, max: 10_000_000 },
  maxBytes: { env: 'REPORT_MAX_BYTES', default: 64 * 1024 * 1024, min: 1, max: 1024 ** 3 },
  maxColumns: { env: 'REPORT_MAX_COLUMNS', default: 1_000, min: 1, max: 100_000 },
} as const satisfies Record<keyof ReportLimits, EnvNumberSpec>;

/** The default bounds. */
export const DEFAULT_REPORT_LIMITS: Readonly<ReportLimits> = tableDefaults(REPORT_LIMITS);

/**
 * The report's rows, inline or streamed from a CSV in S3 (header line names the columns; a
 * UTF-8 BOM is skipped). Checks that every column the report uses exists, and stops with
 * `NonRetryableError` on a malformed CSV (`MALFORMED_CSV`, with the line), a source outside
 * the allow-list, or past a bound of `limits` (`TOO_MANY_ROWS`, `SOURCE_TOO_LARGE`, `TOO_MANY_COLUMNS`).
 */
export async function* readRows(
  report: GenerateReportV1,
  options: { s3: S3Client; signal: AbortSignal; allow: S3AllowList; limits: ReportLimits },
): AsyncGenerator<DataRow> {
  const needed = new Set<string>([
    ...report.columns.map((column) => column.key),
    ...(report.groupBy ? [report.groupBy] : []),
    ...(report.aggregates ?? []).map((aggregate) => aggregate.column),
  ]);
  if (report.rows) {
    if (report.rows.length > 0) {
      const present = new Set(report.rows.flatMap((row) => Object.keys(row)));
      const missing = [...needed].filter((key) => !present.has(key));
      if (missing.length > 0) {
        throw new NonRetryableError(`no row has the column(s) ${missing.map((m) => `"${m}"`).join(', ')}`, {
          code: 'MISSING_COLUMN',
        });
      }
    }
    let number = 0;
    for (const values of report.rows) yield { number: ++number, values };
    return;
  }

  const { maxRows, maxColumns } = options.limits;
  const uri = report.source as string;
  const stream = (
    await openS3Input(options.s3, uri, {
      allow: options.allow,
      label: 'source',
      code: 'SOURCE',
      maxBytes: options.limits.maxBytes,
      signal: options.signal,
    })
  ).body;
  const header = (names: string[]) => {
    if (names.length > maxColumns) {
      throw new NonRetryableError(`${uri} has ${names.length} columns, over the limit of ${maxColumns}`, {
        code: 'TOO_MANY_COLUMNS',
      });
    }
    return names;
  };
  const parser = stream.pipe(
    parse({ columns: header, bom: true, skip_empty_lines: true, trim: false, relax_column_count: false, info: true }),
  );
  stream.on('error', (error) => parser.destroy(error));
  let count = 0;
  let checked = false;
  try {
    for await (const record of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      if (!checked) {
        const missing = [...needed].filter((key) => !Object.hasOwn(record.record, key));
        if (missing.length > 0) {
          throw new NonRetryableError(
            `${uri} has no column(s) ${missing.map((m) => `"${m}"`).join(', ')} (header: ${Object.keys(record.record).join(', ')})`,
            { code: 'MISSING_COLUMN' },
          );
        }
        checked = true;
      }
      count += 1;
      if (count > maxRows) {
        throw new NonRetryableError(`${uri} has more than ${maxRows} rows`, { code: 'TOO_MANY_ROWS' });
      }
      yield { number: record.info.lines, values: record.record };
    }
  } catch (error) {
    if (error instanceof CsvError) {
      throw new NonRetryableError(`${uri} is not valid CSV: ${error.message}`, { code: 'MALFORMED_CSV', cause: error });
    }
    throw error;
  } finally {
    stream.destroy();
  }
}
