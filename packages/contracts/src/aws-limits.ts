// The one table of AWS's own limits that tq plans and checks with. Every package reads these
// numbers from here (re-exported by `@tq/aws`), so a limit exists once.

/**
 * AWS's limits, by service, as the services document them:
 * - SQS: message size (body and attributes, also a whole batch), batch entries, message
 *   attributes, delay, visibility timeout, retention, long-poll wait, receive count of a
 *   redrive policy;
 * - SNS: message size (also a whole `PublishBatch`), batch entries;
 * - DynamoDB: items per `BatchWriteItem`, bytes per item;
 * - EventBridge Scheduler: characters of a target's input.
 */
export const AWS_LIMITS = {
  sqs: {
    maxMessageBytes: 1_048_576,
    maxBatchEntries: 10,
    maxMessageAttributes: 10,
    maxDelaySeconds: 900,
    maxVisibilityTimeoutSeconds: 43_200,
    minRetentionSeconds: 60,
    maxRetentionSeconds: 1_209_600,
    maxWaitTimeSeconds: 20,
    maxReceiveCount: 1000,
  },
  sns: {
    maxMessageBytes: 262_144,
    maxBatchEntries: 10,
  },
  dynamodb: {
    maxBatchWriteItems: 25,
    maxItemBytes: 400 * 1024,
  },
  scheduler: {
    maxInputChars: 8192,
  },
} as const;
