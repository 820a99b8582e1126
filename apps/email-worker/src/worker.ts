import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Mailbox, SendEmailV1 } from '@tq/contracts';
import {
  checkS3Location,
  createWorker,
  type HandlerContext,
  NonRetryableError,
  openS3Input,
  resolveS3Allow,
  type S3AllowList,
  type Worker,
  type WorkerAppDeps,
} from '@tq/worker';
import nodemailer, { type Attachment, type SendMailOptions, type TransportOptions } from 'nodemailer';
import { createRateLimiter } from './rate-limit.js';

/** The part of a nodemailer transporter the worker uses (a pool in production, anything in tests). */
export interface MailTransport {
  sendMail(message: SendMailOptions): Promise<{
    messageId: string;
    accepted: (string | { address: string })[];
    rejected: (string | { address: string })[];
    response: string;
  }>;
  close(): void;
}

/** What `createEmailWorker` takes. */
export interface EmailWorkerDeps extends WorkerAppDeps<'send_email'> {
  /** An SMTP URL (a pooled transport is created and closed with the worker) or a ready transport. */
  smtp: string | MailTransport;
  /** Sender when the task names none, e.g. `Acme <no-reply@acme.example>`. */
  from: string;
  /** Right-hand side of generated Message-IDs; default: the sender's domain. */
  messageIdDomain?: string;
  /** SMTP connections in the pool. Default 5. */
  poolSize?: number;
  /** Messages per second this worker sends at most (SMTP providers throttle); 0 = no limit. */
  ratePerSecond?: number;
  /** Largest attachment (and total) in bytes; larger tasks are dead-lettered. Default 25 MiB. */
  maxAttachmentBytes?: number;
}

/** What the handler reports for a sent mail (logged, and in the worker's `succeeded` event). */
export interface EmailResult {
  messageId: string;
  accepted: string[];
  rejected: string[];
  response: string;
}

function toAddress(mailbox: Mailbox): string | { name: string; address: string } {
  return typeof mailbox === 'string' ? mailbox : { name: mailbox.name, address: mailbox.address };
}

function addressOf(value: string | { address: string }): string {
  return typeof value === 'string' ? value : value.address;
}

/** The Message-ID of a task's mail: the same for every attempt, so downstream can spot duplicates. */
export function messageIdFor(taskId: string, domain: string): string {
  return `<${taskId}@${domain}>`;
}

/** Classifies an SMTP failure: permanent rejections (5xx) can never succeed, everything else may. */
function smtpError(error: unknown): unknown {
  const smtp = error as { responseCode?: number; response?: string; code?: string; message?: string };
  if (typeof smtp.responseCode === 'number' && smtp.responseCode >= 500 && smtp.responseCode < 600) {
    return new NonRetryableError(smtp.response ?? smtp.message ?? `SMTP ${smtp.responseCode}`, {
      code: 'SMTP_REJECTED',
      cause: error,
    });
  }
  return error;
}

async function openAttachments(
  s3: S3Client,
  attachments: NonNullable<SendEmailV1['attachments']>,
  options: { allow: S3AllowList; maxBytes: number; signal: AbortSignal },
): Promise<Attachment[]> {
  // Every location is checked before any is read: a task naming one foreign object reads nothing.
  for (const attachment of attachments) checkS3Location(options.allow, attachment.source, 'attachment');
  const opened: { stream: Readable; attachment: (typeof attachments)[number]; type: string | undefined }[] = [];
  let total = 0;
  try {
    for (const attachment of attachments) {
      // Each may bring at most what is left of the budget (ATTACHMENT_TOO_LARGE past it), whatever S3 declared.
      const object = await openS3Input(s3, attachment.source, {
        allow: options.allow,
        label: 'attachment',
        code: 'ATTACHMENT',
        maxBytes: options.maxBytes - total,
        signal: options.signal,
      });
      opened.push({ stream: object.body, attachment, type: object.contentType });
      total += object.contentLength ?? 0;
    }
  } catch (error) {
    for (const { stream } of opened) stream.destroy();
    throw error;
  }
  return opened.map(({ stream, attachment, type }) => ({
    filename: attachment.filename,
    content: stream,
    contentType: attachment.contentType ?? type ?? 'application/octet-stream',
    ...(attachment.contentId ? { cid: attachment.contentId } : {}),
  }));
}

/**
 * Creates the `send_email` worker: each task becomes one mail through SMTP (nodemailer, pooled
 * connections, optional rate limit) with attachments streamed from S3 and a Message-ID derived
 * from the task id. 5xx rejections are dead-lettered with the SMTP response; 4xx replies and
 * connection failures are retried with backoff.
 */
export function createEmailWorker(deps: EmailWorkerDeps): Worker<'send_email'> {
  const domain = deps.messageIdDomain ?? /@([^\s<>@]+)>?\s*$/.exec(deps.from)?.[1] ?? 'tq.local';
  const maxAttachmentBytes = deps.maxAttachmentBytes ?? 25 * 1024 * 1024;
  const allow = resolveS3Allow(deps.s3Allow ?? deps.worker?.s3Allow, { prefix: deps.worker?.prefix });
  const transport: MailTransport =
    typeof deps.smtp === 'string'
      ? (nodemailer.createTransport({
          pool: true,
          url: deps.smtp,
          maxConnections: deps.poolSize ?? 5,
          socketTimeout: 60_000,
        } as TransportOptions) as unknown as MailTransport)
      : deps.smtp;

  const rateLimit = createRateLimiter(deps.ratePerSecond ?? 0);

  const handler = async (email: SendEmailV1, context: HandlerContext<'send_email'>): Promise<EmailResult> => {
    await rateLimit(context.signal);
    const attachments = email.attachments?.length
      ? await openAttachments(deps.s3, email.attachments, {
          allow,
          maxBytes: maxAttachmentBytes,
          signal: context.signal,
        })
      : undefined;
    const info = await transport
      .sendMail({
        from: toAddress(email.from ?? deps.from),
        to: email.to.map(toAddress),
        ...(email.cc ? { cc: email.cc.map(toAddress) } : {}),
        ...(email.bcc ? { bcc: email.bcc.map(toAddress) } : {}),
        ...(email.replyTo ? { replyTo: toAddress(email.replyTo) } : {}),
        subject: email.subject,
        ...(email.text !== undefined ? { text: email.text } : {}),
        ...(email.html !== undefined ? { html: email.html } : {}),
        ...(attachments ? { attachments } : {}),
        messageId: messageIdFor(context.id, domain),
        headers: { 'X-Tq-Task-Id': context.id },
        // Payloads come from other services: never let them make nodemailer read files or URLs.
        disableFileAccess: true,
        disableUrlAccess: true,
      })
      .catch((error: unknown) => {
        for (const attachment of attachments ?? []) (attachment.content as Readable).destroy();
        throw smtpError(error);
      });
    const result = {
      messageId: info.messageId,
      accepted: info.accepted.map(addressOf),
      rejected: info.rejected.map(addressOf),
      response: info.response,
    };
    // Some recipients refused while others accepted: the mail went out, so a retry would duplicate it.
    if (result.rejected.length > 0) context.logger.warn({ rejected: result.rejected }, 'some recipients were refused');
    return result;
  };

  const worker = createWorker({ ...deps.worker, s3Allow: allow, task: 'send_email', handler });
  if (typeof deps.smtp === 'string') worker.once('stopped', () => transport.close());
  return worker;
}
