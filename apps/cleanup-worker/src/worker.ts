import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CleanupDataV1 } from '@tq/contracts';
import {
  checkS3Location,
  createWorker,
  type EnvNumberSpec,
  type HandlerContext,
  openS3Input,
  resolveS3Allow,
  type S3AllowList,
  s3WriteFailure,
  tableDefaults,
  type Worker,
  type WorkerAppDeps,
} from '@tq/worker';
import { CsvCleaning } from './cleaning.js';
import { RecordSplitter } from './records.js';

/** What `createCleanupWorker` takes. */
export interface CleanupWorkerDeps extends WorkerAppDeps<'cleanup_data'> {
  /** Multipart upload part size in bytes, at least 5 MiB (the default): each output holds at most two parts in memory. */
  partSize?: number;
  /** Bounds of one task (see `CleanupLimits`). */
  limits?: Partial<CleanupLimits>;
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

/**
 * The one table of the bounds: default, allowed range and variable of each (the README's "Limits
 * and confinement" table). `main.ts` reads the variables with it.
 */
export const CLEANUP_LIMITS = {
  maxBytes: { env: 'CLEANUP_MAX_BYTES', default: 1024 * 1024 * 1024, min: 1, max: 5 * 1024 ** 4 },
  maxRows: { env: 'CLEANUP_MAX_ROWS', default: 2_000_000, min: 1, max: 1_000_000_000 },
  maxColumns: { env: 'CLEANUP_MAX_COLUMNS', default: 1_000, min: 1, max: 100_000 },
} as const satisfies Record<keyof CleanupLimits, EnvNumberSpec>;

/** The default bounds. */
export const DEFAULT_CLEANUP_LIMITS: Readonly<CleanupLimits> = tableDefaults(CLEANUP_LIMITS);

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
  const run = new CsvCleaning({ s3, bucket, keys, uri, partSize, signal: options.signal, task, limits });
  const summary = run.summary;
  const splitter = new RecordSplitter({ delimiter, onRun: run.add, onMalformed: run.add });

  try {
    for await (const chunk of source) {
      options.signal.throwIfAborted();
      splitter.push(chunk as Buffer);
      if (run.full) await run.flush();
    }
    splitter.end();
    await run.flush();
    await run.finish();
  } catch (error) {
    source.destroy();
    await run.abort();
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
