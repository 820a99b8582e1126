import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Message } from '@aws-sdk/client-sqs';
import { classifyAwsError, isObjectTooLargeError, isS3LocationError, readS3Object, type S3AllowList } from '@tq/aws';
import {
  isClaimCheckPointer,
  looksLikeClaimCheck,
  MAX_CLAIM_CHECK_BYTES,
  parseTask,
  type TaskEnvelope,
  type TaskRegistry,
} from '@tq/contracts';

/** A message body turned into a validated envelope, or why it cannot be. */
export type Decoded =
  | {
      ok: true;
      envelope: TaskEnvelope;
      /** How the task arrived: an envelope, the seed's flat form, or a claim-check pointer. */
      form: 'envelope' | 'flat' | 'claim-check';
      /** True when the body was an SNS notification (raw message delivery off) and was unwrapped. */
      unwrapped: boolean;
    }
  | {
      ok: false;
      /** The dead-letter reason code (`INVALID_JSON`, `SCHEMA_VIOLATION`, `CLAIM_CHECK_MISSING`, ...). */
      code: string;
      message: string;
      /** True when trying again may succeed (an S3 read that failed for a transient reason). */
      retryable: boolean;
      cause?: unknown;
    };

/** What decoding needs: the task types, and where and how claim-checked envelopes are read. */
export interface DecodeOptions {
  registry: TaskRegistry;
  s3: S3Client | undefined;
  /** Where claim-checked envelopes may be read from. */
  allow: S3AllowList;
  signal?: AbortSignal;
}

function isSnsNotification(value: unknown): value is { Type: string; Message: string; TopicArn: string } {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return record.Type === 'Notification' && typeof record.Message === 'string' && typeof record.TopicArn === 'string';
}

function parseJson(body: string): { ok: true; value: unknown } | { ok: false; error: Error } {
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}

function sentAt(message: Message): string | undefined {
  const sent = Number(message.Attributes?.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : undefined;
}

/**
 * Turns an SQS message into a validated envelope: unwraps SNS notifications, fetches
 * claim-checked envelopes from S3 (checking size and digest), and normalises the seed
 * article's flat form (keyed by the SQS message id, so a redelivery keeps the same id).
 * Answers at once unless the body is a claim-check pointer, which needs an S3 read.
 */
export function decodeMessage(message: Message, options: DecodeOptions): Decoded | Promise<Decoded> {
  let body = message.Body ?? '';
  let unwrapped = false;
  let value: unknown;
  try {
    value = JSON.parse(body);
    if (isSnsNotification(value)) {
      body = value.Message;
      unwrapped = true;
      value = JSON.parse(body);
    }
  } catch (error) {
    return {
      ok: false,
      code: 'INVALID_JSON',
      message: `body is not JSON: ${(error as Error).message}`,
      retryable: false,
    };
  }
  if (looksLikeClaimCheck(value)) {
    return fetchClaimCheck(value, options).then((fetched) =>
      fetched.ok ? validate(message, fetched.value, options, unwrapped, 'claim-check') : fetched,
    );
  }
  return validate(message, value, options, unwrapped, undefined);
}

function validate(
  message: Message,
  value: unknown,
  options: DecodeOptions,
  unwrapped: boolean,
  form: 'claim-check' | undefined,
): Decoded {
  // The flat form and envelopes without an id (scheduled firings) take these; the send time is
  // worked out only if it is asked for.
  const defaults = {
    id: message.MessageId || undefined,
    get createdAt() {
      return sentAt(message);
    },
  };
  if (typeof value === 'string') {
    // parseTask would parse a string again: a body that is a JSON string is not a task.
    return { ok: false, code: 'NOT_AN_OBJECT', message: 'task must be a JSON object, got string', retryable: false };
  }
  const result = parseTask(value, { registry: options.registry, defaults });
  if (!result.ok) {
    return { ok: false, code: result.error.code, message: result.error.message, retryable: false, cause: result.error };
  }
  return { ok: true, envelope: result.envelope, form: form ?? result.form, unwrapped };
}

async function fetchClaimCheck(
  pointer: unknown,
  options: DecodeOptions,
): Promise<{ ok: true; value: unknown } | Extract<Decoded, { ok: false }>> {
  const invalid = (message: string): Extract<Decoded, { ok: false }> => ({
    ok: false,
    code: 'CLAIM_CHECK_INVALID',
    message,
    retryable: false,
  });
  if (!isClaimCheckPointer(pointer)) return invalid('claim-check pointer is malformed');
  if (!options.s3) return invalid('message is a claim-check pointer but the worker has no S3 client');
  const { uri, bytes, sha256 } = pointer.claimCheck;
  if (bytes > MAX_CLAIM_CHECK_BYTES) {
    return invalid(`claim-checked envelope is ${bytes} bytes, over the ${MAX_CLAIM_CHECK_BYTES}-byte limit`);
  }
  let text: string;
  try {
    const location = options.allow.check(uri, 'claim-checked object');
    // Reads at most the size the pointer claims (plus one chunk): a pointer that lies about a
    // huge object costs nothing.
    const data = await readS3Object(options.s3, location, {
      maxBytes: bytes,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (data.byteLength !== bytes) {
      return invalid(`claim-checked object ${uri} is ${data.byteLength} bytes, the pointer says ${bytes}`);
    }
    const digest = createHash('sha256').update(data).digest('hex');
    if (digest !== sha256) return invalid(`claim-checked object ${uri} does not match the pointer's SHA-256`);
    text = data.toString('utf8');
  } catch (error) {
    return claimCheckFailure(uri, bytes, error);
  }
  const parsed = parseJson(text);
  if (!parsed.ok) return invalid(`claim-checked object ${uri} is not JSON: ${parsed.error.message}`);
  const envelope = parsed.value as Record<string, unknown> | null;
  if (
    typeof envelope !== 'object' ||
    envelope === null ||
    envelope.id !== pointer.id ||
    envelope.task !== pointer.task ||
    envelope.version !== pointer.version
  ) {
    return invalid(`claim-checked object ${uri} holds a different task than the pointer (id, task or version differ)`);
  }
  return { ok: true, value: envelope };
}

/** Why a claim-checked envelope could not be read, by the one classification of AWS errors. */
function claimCheckFailure(uri: string, bytes: number, error: unknown): Extract<Decoded, { ok: false }> {
  const fail = (code: string, message: string, retryable: boolean): Extract<Decoded, { ok: false }> => ({
    ok: false,
    code,
    message,
    retryable,
    cause: error,
  });
  if (isS3LocationError(error)) return fail(error.code, error.message, false);
  if (isObjectTooLargeError(error)) {
    return fail(
      'CLAIM_CHECK_INVALID',
      `claim-checked object ${uri} is larger than the ${bytes} bytes its pointer says`,
      false,
    );
  }
  const reason = (error as Error).message ?? String(error);
  switch (classifyAwsError(error)) {
    case 'not-found':
      return fail(
        'CLAIM_CHECK_MISSING',
        `claim-checked object ${uri} does not exist (expired by a lifecycle rule, or deleted)`,
        false,
      );
    case 'forbidden':
      return fail(
        'CLAIM_CHECK_FORBIDDEN',
        `claim-checked object ${uri} may not be read by this worker: ${reason}`,
        false,
      );
    case 'invalid':
      return fail('CLAIM_CHECK_UNREADABLE', `S3 refused the request for ${uri}: ${reason}`, false);
    default:
      return fail('CLAIM_CHECK_UNREADABLE', `could not read ${uri}: ${reason}`, true);
  }
}
