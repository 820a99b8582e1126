/// <reference path="./dynalite.d.ts" />
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

/** A DynamoDB endpoint of its own (`startDynamoDb`). */
export interface DynamoDbEndpoint {
  /** `http://127.0.0.1:<port>`: what `TQ_DYNAMODB_ENDPOINT` should be set to. */
  readonly endpoint: string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts DynamoDB (`dynalite`) on loopback and a free port, apart from any SQS endpoint: for
 * setups that pair an SQS/SNS/S3 emulator without DynamoDB (ElasticMQ, plain fauxqs) with a
 * separate one through `TQ_DYNAMODB_ENDPOINT`. Tables live in memory, or in `path`.
 */
export async function startDynamoDb(options: { path?: string } = {}): Promise<DynamoDbEndpoint> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path ? { path: options.path } : {}),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= new Promise<void>((resolve) => server.close(() => resolve()));
    return stopped;
  };
  return { endpoint: `http://127.0.0.1:${port}`, stop, [Symbol.asyncDispose]: stop };
}
