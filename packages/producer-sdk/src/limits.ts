// The transport limits the producer plans with (AWS's, checked before any call).

/** SQS's message size limit (body and attributes), also the limit of a whole SendMessageBatch. */
export const SQS_MAX_BYTES = 1_048_576;
/** SNS's message size limit (body and attributes), also the limit of a whole PublishBatch. */
export const SNS_MAX_BYTES = 262_144;
/** Entries per SendMessageBatch / PublishBatch. */
export const MAX_BATCH_ENTRIES = 10;
