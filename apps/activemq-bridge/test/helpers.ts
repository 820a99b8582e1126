import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BrokerConnection, type BrokerMessage } from '@tq/activemq';
import { readEnvironment, type TqEnvironment } from '@tq/contracts';
import { type LocalEndpoint, uniqueName } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import repository from '../../../tq.config.js';
import { type BridgeConfig, readBridgeConfig } from '../src/config.js';

const run = promisify(execFile);

/** The broker configuration the app ships. */
export const BROKER_CONFIG = fileURLToPath(new URL('../activemq.xml', import.meta.url));

/** A fresh prefix provisioned with the bridge's copy queues (every task), on the local endpoint. */
export async function provisionWithCopies(endpoint: LocalEndpoint): Promise<{ prefix: string; env: TqEnvironment }> {
  const prefix = uniqueName('amq');
  const sqs = new SQSClient(endpoint.clientConfig);
  const sns = new SNSClient(endpoint.clientConfig);
  const s3 = new S3Client(endpoint.clientConfig);
  try {
    await createProvisioner({
      sqs,
      sns,
      s3,
      topology: defineTopology({ prefix, bucket: false, copies: [{ consumer: 'activemq' }] }),
    }).apply();
  } finally {
    sqs.destroy();
    sns.destroy();
    s3.destroy();
  }
  const env = readEnvironment({
    TQ_ENDPOINT: endpoint.endpoint,
    AWS_REGION: endpoint.region,
    TQ_PREFIX: prefix,
    TQ_ACTIVEMQ: '1',
  });
  return { prefix, env };
}

/** The bridge's configuration as `main.ts` reads it (the repository's tasks), with `vars` on top of the given broker URL. */
export function bridgeConfig(env: TqEnvironment, url: string, vars: Record<string, string> = {}): BridgeConfig {
  return readBridgeConfig(env, repository.registry, { TQ_ACTIVEMQ_URL: url, ...vars });
}

export async function queueUrl(sqs: SQSClient, name: string): Promise<string> {
  return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string;
}

/** A STOMP client of its own (not the bridge's), as a JMS/STOMP application would be. */
export function independentClient(url: string): BrokerConnection {
  const connection = new BrokerConnection({ url, reconnectDelayMs: 100, maxReconnectDelayMs: 1000 });
  connection.start();
  return connection;
}

/**
 * Reads messages from `destination` (acking each) until `done(messages)` says so; rejects after
 * `timeoutMs` with what arrived.
 */
export function collect(
  connection: BrokerConnection,
  destination: string,
  done: (messages: BrokerMessage[]) => boolean,
  timeoutMs = 120_000,
): Promise<BrokerMessage[]> {
  return new Promise((resolve, reject) => {
    const messages: BrokerMessage[] = [];
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`${destination}: ${messages.length} message(s) after ${timeoutMs} ms`));
    }, timeoutMs);
    const subscription = connection.subscribe(
      destination,
      (message) => {
        messages.push(message);
        message.ack();
        if (done(messages)) {
          clearTimeout(timer);
          subscription.unsubscribe();
          resolve(messages);
        }
      },
      { ack: 'client-individual' },
    );
  });
}

/** Publishes to the topic with the aws CLI, as another client (the seed article's producers) would. */
export async function publishWithAwsCli(endpoint: LocalEndpoint, topicArn: string, task: string, body: object) {
  await run(
    'aws',
    [
      '--endpoint-url',
      endpoint.endpoint,
      '--region',
      endpoint.region,
      'sns',
      'publish',
      '--topic-arn',
      topicArn,
      '--message',
      JSON.stringify(body),
      '--message-attributes',
      JSON.stringify({ task: { DataType: 'String', StringValue: task } }),
    ],
    { env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_PAGER: '' } },
  );
}

/** Polls `check` every 50 ms until it returns true; rejects after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
