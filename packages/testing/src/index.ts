/**
 * Test helpers for tq: queue helpers that wait without sleeping, process and proxy helpers for
 * kill tests, and the local system of `@tq/local` (endpoint, SMTP sink, ActiveMQ) re-exported.
 *
 * ```ts
 * import { startLocalEndpoint, startSmtpSink, createQueue, waitForMessages } from '@tq/testing';
 * import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
 *
 * const endpoint = await startLocalEndpoint();           // fauxqs on 127.0.0.1, free port
 * const sqs = new SQSClient(endpoint.clientConfig);
 * const queue = await createQueue(sqs);
 * await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'hi' }));
 * const [message] = await waitForMessages(sqs, queue.url, 1);
 * await endpoint.stop();
 * ```
 *
 * @module
 */
export {
  type ActiveMq,
  type ActiveMqOptions,
  type AwsClientConfig,
  type DynamoDbEndpoint,
  type EndpointProcess,
  findActiveMqHome,
  LOCAL_CREDENTIALS,
  type LocalEndpoint,
  type LocalEndpointOptions,
  LocalScheduler,
  localClientConfig,
  type ReceivedMail,
  RequestCounter,
  type RequestCounts,
  type ScheduleFiring,
  type SmtpFailure,
  type SmtpSink,
  type SmtpSinkOptions,
  type SmtpStage,
  startActiveMq,
  startDynamoDb,
  startEndpointProcess,
  startLocalEndpoint,
  startSmtpSink,
} from '@tq/local';
export { createTestBucket, type TestBucket, type TestObject, testBucket } from './bucket.js';
export { type AwsFault, injectAwsFault } from './faults.js';
export { cdkSynthOffline, type SpawnedProcess, spawnCommand, spawnTs, waitForExit, waitForOutput } from './process.js';
export { type HoldingProxy, startHoldingProxy } from './proxy.js';
export {
  createQueue,
  createQueueWithDlq,
  type QueueCounts,
  queueCounts,
  type TestQueue,
  uniqueName,
  type WaitForMessagesOptions,
  waitForMessages,
} from './queues.js';
export { waitUntil } from './wait.js';
export { type TestWorkerOptions, testWorkerOptions } from './worker-options.js';
