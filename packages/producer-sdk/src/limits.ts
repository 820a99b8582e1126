// The transport limits the producer plans with: AWS's, from the one table (`AWS_LIMITS`), checked
// before any call.
import { AWS_LIMITS } from '@tq/contracts';

/** SQS's message size limit (body and attributes), also the limit of a whole SendMessageBatch. */
export const SQS_MAX_BYTES = AWS_LIMITS.sqs.maxMessageBytes;
/** SNS's message size limit (body and attributes), also the limit of a whole PublishBatch. */
export const SNS_MAX_BYTES = AWS_LIMITS.sns.maxMessageBytes;
/** Entries per SendMessageBatch / PublishBatch. */
export const MAX_BATCH_ENTRIES = AWS_LIMITS.sqs.maxBatchEntries;
