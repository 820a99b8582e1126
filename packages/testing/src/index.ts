/**
 * Test helpers for tq: real servers on loopback, waits without sleeps.
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
export { type ActiveMq, type ActiveMqOptions, findActiveMqHome, startActiveMq } from './activemq.js';
export { type DynamoDbEndpoint, startDynamoDb } from './dynamodb.js';
export { type EndpointProcess, startEndpointProcess } from './endpoint-process.js';
export { type AwsFault, injectAwsFault } from './faults.js';
export {
  type AwsClientConfig,
  LOCAL_CREDENTIALS,
  type LocalEndpoint,
  type LocalEndpointOptions,
  localClientConfig,
  startLocalEndpoint,
} from './local-endpoint.js';
export { LocalScheduler, type ScheduleFiring } from './local-scheduler.js';
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
export {
  type ReceivedMail,
  type SmtpFailure,
  type SmtpSink,
  type SmtpSinkOptions,
  type SmtpStage,
  startSmtpSink,
} from './smtp-sink.js';
