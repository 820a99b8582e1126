import { classifyAwsError, isServiceMissingError } from '@tq/aws';

/**
 * Why a send failed:
 * - `INVALID_OPTIONS`: a send option is out of range (checked before any call).
 * - `PAYLOAD_TOO_LARGE`: the message exceeds the transport's limit.
 * - `TOPIC_NOT_FOUND` / `QUEUE_NOT_FOUND` / `BUCKET_NOT_FOUND`: the resource does not exist (run `tq provision`).
 * - `THROTTLED`: AWS throttled the call after the SDK's retries.
 * - `CREDENTIALS`: no usable credentials, or access denied.
 * - `SCHEDULER_UNAVAILABLE`: a send beyond 15 minutes, but the endpoint serves no EventBridge
 *   Scheduler (an SQS/SNS emulator without it): point `TQ_SCHEDULER_ENDPOINT` at one.
 * - `AWS_ERROR`: any other failure of the call; see `cause`.
 */
export type ProducerErrorCode =
  | 'INVALID_OPTIONS'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOPIC_NOT_FOUND'
  | 'QUEUE_NOT_FOUND'
  | 'BUCKET_NOT_FOUND'
  | 'THROTTLED'
  | 'CREDENTIALS'
  | 'SCHEDULER_UNAVAILABLE'
  | 'AWS_ERROR';

const PRODUCER_ERROR = Symbol.for('@tq/producer-sdk/ProducerError');

/** Thrown by `send` when a task was not sent. A task is never reported sent when this is thrown. */
export class ProducerError extends Error {
  override readonly name: string = 'ProducerError';
  readonly code: ProducerErrorCode;
  /** Whether trying again later may succeed. */
  readonly retryable: boolean;

  constructor(code: ProducerErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    Object.defineProperty(this, PRODUCER_ERROR, { value: true });
  }
}

/**
 * Thrown when a message exceeds the transport limit (1 MiB on SQS, 256 KiB through SNS), or, with
 * `largePayloads`, the 64 MiB a claim-checked envelope may have (`MAX_CLAIM_CHECK_BYTES`).
 */
export class PayloadTooLargeError extends ProducerError {
  override readonly name = 'PayloadTooLargeError';
  readonly bytes: number;
  readonly limit: number;

  constructor(bytes: number, limit: number, route: 'topic' | 'queue' | 'claim-check') {
    const what = route === 'topic' ? 'SNS' : route === 'queue' ? 'SQS' : 'a claim check (workers refuse larger ones)';
    super(
      'PAYLOAD_TOO_LARGE',
      `task is ${bytes} bytes, over the ${limit}-byte limit of ${what}: store large data in S3 and send its s3:// reference`,
    );
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** True for a `ProducerError` (or `PayloadTooLargeError`), even from another copy of this package. */
export function isProducerError(value: unknown): value is ProducerError {
  return typeof value === 'object' && value !== null && PRODUCER_ERROR in value;
}

/**
 * Maps an AWS SDK error to a `ProducerError` whose message says what to do, by the one
 * classification of AWS errors every tq package uses (`@tq/aws` `classifyAwsError`).
 */
export function fromAwsError(error: unknown, target: string): ProducerError {
  const message = error instanceof Error ? error.message : String(error);
  if (target.startsWith('schedule') && isServiceMissingError(error)) {
    return new ProducerError(
      'SCHEDULER_UNAVAILABLE',
      'sends beyond 15 minutes need EventBridge Scheduler, and this endpoint serves none: set TQ_SCHEDULER_ENDPOINT to one (the endpoint of `tq up` serves it), or send within 15 minutes',
      { cause: error },
    );
  }
  switch (classifyAwsError(error)) {
    case 'not-found': {
      const code = target.startsWith('topic')
        ? 'TOPIC_NOT_FOUND'
        : target.startsWith('bucket')
          ? 'BUCKET_NOT_FOUND'
          : 'QUEUE_NOT_FOUND';
      return new ProducerError(code, `${target} does not exist: run \`tq provision\` (${message})`, { cause: error });
    }
    case 'throttled':
      return new ProducerError('THROTTLED', `${target} throttled the send after retries: slow down or retry later`, {
        cause: error,
        retryable: true,
      });
    case 'credentials':
    case 'forbidden':
      return new ProducerError(
        'CREDENTIALS',
        `no permission to send to ${target}: check AWS credentials and that the role may sns:Publish / sqs:SendMessage (${message})`,
        { cause: error },
      );
    case 'invalid':
      // A request the service rejected as malformed fails the same way again.
      return new ProducerError('AWS_ERROR', `could not send to ${target}: ${message}`, {
        cause: error,
        retryable: false,
      });
    default:
      return new ProducerError('AWS_ERROR', `could not send to ${target}: ${message}`, {
        cause: error,
        retryable: true,
      });
  }
}
