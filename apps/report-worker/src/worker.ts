import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { GenerateReportV1 } from '@tq/contracts';
import type { Producer } from '@tq/producer-sdk';
import {
  checkS3Location,
  createWorker,
  type HandlerContext,
  resolveS3Allow,
  s3WriteFailure,
  type Worker,
  type WorkerAppDeps,
} from '@tq/worker';
import { DEFAULT_REPORT_LIMITS, type ReportLimits, readRows } from './data.js';
import { type RenderOptions, renderReport } from './render.js';

/** What `createReportWorker` takes. */
export interface ReportWorkerDeps extends WorkerAppDeps<'generate_report'> {
  /** Sends the `send_email` task when a report asks to be emailed. */
  producer: Pick<Producer, 'send'>;
  /** Bounds of one report's CSV source (rows, bytes, columns). */
  limits?: Partial<ReportLimits>;
  /** Locale and currency of formatted numbers. */
  render?: Omit<RenderOptions, 'now'>;
}

/** What the handler reports for a rendered report. */
export interface ReportResult {
  destination: string;
  bytes: number;
  pages: number;
  rows: number;
  groups: number;
  /** The chained `send_email` task, when the report was emailed. */
  emailTaskId?: string;
}

/**
 * A UUID derived from a task id and a purpose: a retried report sends its email with the same
 * task id (so the same Message-ID), which lets every downstream system see the duplicate.
 */
export function derivedId(taskId: string, purpose: string): string {
  const hex = createHash('sha256').update(`${taskId}:${purpose}`).digest('hex');
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Creates the `generate_report` worker: renders the PDF (see `renderReport`) from inline rows
 * or a CSV streamed from S3, stores it at `destination` with its content type and metadata,
 * and, when the payload has `email`, sends a `send_email` task with the PDF attached through
 * the same queues. Bad data (missing source, malformed CSV, missing columns, non-numeric values
 * in numeric aggregates) is dead-lettered with the reason.
 */
export function createReportWorker(deps: ReportWorkerDeps): Worker<'generate_report'> {
  const allow = resolveS3Allow(deps.s3Allow ?? deps.worker?.s3Allow, { prefix: deps.worker?.prefix });
  const limits: ReportLimits = { ...DEFAULT_REPORT_LIMITS, ...deps.limits };
  const handler = async (
    report: GenerateReportV1,
    context: HandlerContext<'generate_report'>,
  ): Promise<ReportResult> => {
    // Both locations are checked before any S3 call.
    const { bucket, key } = checkS3Location(allow, report.destination, 'destination');
    if (report.source !== undefined) checkS3Location(allow, report.source, 'source');
    const rendered = await renderReport(
      report,
      readRows(report, { s3: deps.s3, signal: context.signal, allow, limits }),
      deps.render ?? {},
    );
    await deps.s3
      .send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: rendered.pdf,
          ContentType: 'application/pdf',
          ContentDisposition: `inline; filename="${posix.basename(key).replace(/[^\x20-\x7e]|"/g, '_')}"`,
          Metadata: {
            'tq-task-id': context.id,
            'tq-pages': String(rendered.pages),
            'tq-rows': String(rendered.rows),
          },
        }),
        { abortSignal: context.signal },
      )
      .catch((error: unknown) => {
        throw s3WriteFailure(error, report.destination);
      });
    const result: ReportResult = {
      destination: report.destination,
      bytes: rendered.pdf.byteLength,
      pages: rendered.pages,
      rows: rendered.rows,
      groups: rendered.groups,
    };
    if (report.email) {
      const sent = await deps.producer.send(
        'send_email',
        {
          to: report.email.to,
          subject: report.email.subject ?? report.title,
          text: report.email.text ?? `Your report "${report.title}" is attached (${rendered.pages} pages).`,
          attachments: [
            {
              filename: posix.basename(key) || 'report.pdf',
              source: report.destination,
              contentType: 'application/pdf',
            },
          ],
        },
        {
          id: derivedId(context.id, 'email'),
          idempotencyKey: `report-${context.id}-email`,
          ...(context.traceparent ? { traceparent: context.traceparent } : {}),
        },
      );
      result.emailTaskId = sent.id;
    }
    return result;
  };
  return createWorker({ ...deps.worker, s3Allow: allow, task: 'generate_report', handler });
}
