/**
 * The AWS helpers every tq package and app shares.
 *
 * ```ts
 * import { classifyAwsError, openS3Object, readS3AllowList } from '@tq/aws';
 *
 * const allowed = readS3AllowList(process.env.TQ_S3_ALLOW, 'tq-artifacts');
 * const location = allowed.check(task.source, 'source'); // throws S3LocationError outside the list
 * try {
 *   const { body } = await openS3Object(s3, location, { maxBytes: 50 * 1024 * 1024, signal });
 * } catch (error) {
 *   if (classifyAwsError(error) === 'not-found') throw new NonRetryableError('source is gone');
 *   throw error;
 * }
 * ```
 *
 * @module
 */

export { AWS_LIMITS } from '@tq/contracts';
export {
  AWS_ERROR_NAMES,
  type AwsErrorClass,
  classifyAwsError,
  isRetryableAwsError,
  isServiceMissingError,
  probeService,
  type ServiceProbe,
} from './errors.js';
export {
  createS3AllowList,
  isS3LocationError,
  parseS3Location,
  readS3AllowList,
  type S3AllowList,
  type S3Location,
  S3LocationError,
  type S3LocationErrorCode,
} from './locations.js';
export {
  findQueuePair,
  lookupQueueUrl,
  type QueueCounts,
  type QueuePair,
  queueCounts,
  REDRIVE_SYSTEM_ATTRIBUTES,
  redriveEntry,
  releaseMessages,
  type SampleOptions,
  sampleMessages,
} from './queues.js';
export { type BackoffOptions, type BatchAttempt, backoffDelay, type RetryBatchOptions, retryBatch } from './retry.js';
export {
  isObjectTooLargeError,
  ObjectTooLargeError,
  type OpenedS3Object,
  openS3Object,
  readS3Object,
  type S3ReadOptions,
} from './s3.js';
export {
  copyMessageAttributes,
  MAX_MESSAGE_ATTRIBUTES,
  parseRedrivePolicy,
  type RedrivePolicy,
} from './sqs.js';
