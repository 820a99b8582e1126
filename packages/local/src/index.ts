/**
 * The local tq system, what `tq up` runs: an SQS/SNS/S3 endpoint (fauxqs) that keeps its state
 * across restarts, with DynamoDB (dynalite) and EventBridge Scheduler's API on the same port, an
 * SMTP sink that records every mail, and a local ActiveMQ broker with a STOMP connector.
 *
 * ```ts
 * import { startLocalEndpoint, startSmtpSink } from '@tq/local';
 * import { SQSClient } from '@aws-sdk/client-sqs';
 *
 * const endpoint = await startLocalEndpoint({ dataDir: '.tq/state' }); // 127.0.0.1, a free port
 * const sqs = new SQSClient(endpoint.clientConfig);                     // or TQ_ENDPOINT=endpoint.endpoint
 * const smtp = await startSmtpSink({ dir: '.tq/mail' });                // SMTP_URL=smtp.url
 * // … run workers against them …
 * await Promise.all([smtp.stop(), endpoint.stop()]);
 * ```
 *
 * @module
 */
export { type ActiveMq, type ActiveMqOptions, findActiveMqHome, startActiveMq } from './activemq.js';
export { type DynamoDbEndpoint, startDynamoDb } from './dynamodb.js';
export { type EndpointProcess, startEndpointProcess } from './endpoint-process.js';
export {
  type AwsClientConfig,
  LOCAL_CREDENTIALS,
  type LocalEndpoint,
  type LocalEndpointOptions,
  localClientConfig,
  startLocalEndpoint,
} from './local-endpoint.js';
export { LocalScheduler, type ScheduleFiring } from './local-scheduler.js';
export { SAVE_MAX_WAIT_MS } from './persistence.js';
export { RequestCounter, type RequestCounts, type RequestFacts } from './request-counter.js';
export {
  type ReceivedMail,
  type SmtpFailure,
  type SmtpSink,
  type SmtpSinkOptions,
  type SmtpStage,
  startSmtpSink,
} from './smtp-sink.js';
