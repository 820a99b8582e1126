import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { GenerateReportV1 } from '@tq/contracts';
import { getS3Object, NonRetryableError } from '@tq/worker';
import { CsvError, parse } from 'csv-parse';
import type { Cell } from './aggregate.js';

/** One data row with its 1-based number (for CSV: the line it ended on). */
export interface DataRow {
  number: number;
  values: Record<string, Cell>;
}

/**
 * The report's rows, inline or streamed from a CSV in S3 (header line names the columns; a
 * UTF-8 BOM is skipped). Checks that every column the report uses exists, and stops with
 * `NonRetryableError` on a malformed CSV (`MALFORMED_CSV`, with the line) or more than
 * `maxRows` rows (`TOO_MANY_ROWS`).
 */
export async function* readRows(
  report: GenerateReportV1,
  options: { s3: S3Client; signal: AbortSignal; maxRows: number },
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

  const uri = report.source as string;
  const stream = (
    await getS3Object(options.s3, uri, { signal: options.signal, code: 'SOURCE_MISSING', label: 'source' })
  ).Body as Readable;
  const parser = stream.pipe(
    parse({ columns: true, bom: true, skip_empty_lines: true, trim: false, relax_column_count: false, info: true }),
  );
  stream.on('error', (error) => parser.destroy(error));
  let count = 0;
  let checked = false;
  try {
    for await (const record of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      if (!checked) {
        const missing = [...needed].filter((key) => !(key in record.record));
        if (missing.length > 0) {
          throw new NonRetryableError(
            `${uri} has no column(s) ${missing.map((m) => `"${m}"`).join(', ')} (header: ${Object.keys(record.record).join(', ')})`,
            { code: 'MISSING_COLUMN' },
          );
        }
        checked = true;
      }
      count += 1;
      if (count > options.maxRows) {
        throw new NonRetryableError(`${uri} has more than ${options.maxRows} rows`, { code: 'TOO_MANY_ROWS' });
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
