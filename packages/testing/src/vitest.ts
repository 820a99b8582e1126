/**
 * Vitest fixtures: one line in a `describe` gives the suite a local endpoint and its clients,
 * started before its first test and stopped after its last.
 *
 * ```ts
 * import { useLocalEndpoint } from '@tq/testing/vitest';
 *
 * describe('my worker', () => {
 *   const local = useLocalEndpoint();
 *   it('runs', async () => {
 *     const queue = await createQueue(local.sqs);
 *   });
 * });
 * ```
 *
 * @module
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type LocalEndpoint, type LocalEndpointOptions, startLocalEndpoint } from '@tq/local';
import { afterAll, beforeAll } from 'vitest';

/** What `useLocalEndpoint` gives a suite; read it inside hooks and tests, not at collection time. */
export interface LocalEndpointFixture {
  readonly endpoint: LocalEndpoint;
  /** Clients for the endpoint, made on first use and destroyed after the suite. */
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly s3: S3Client;
}

/**
 * Starts a local endpoint in the suite's `beforeAll` (registered where this is called, so hooks
 * registered after it can use it) and stops it, with the clients it made, in `afterAll`.
 */
export function useLocalEndpoint(options: LocalEndpointOptions = {}): LocalEndpointFixture {
  let started: LocalEndpoint | undefined;
  const clients: { sqs?: SQSClient; sns?: SNSClient; s3?: S3Client } = {};
  const endpoint = (): LocalEndpoint => {
    if (!started) throw new Error('useLocalEndpoint: the endpoint starts in beforeAll; read it in a hook or a test');
    return started;
  };
  beforeAll(async () => {
    started = await startLocalEndpoint(options);
  });
  afterAll(async () => {
    for (const client of Object.values(clients)) client.destroy();
    await started?.stop();
  });
  return {
    get endpoint() {
      return endpoint();
    },
    get sqs() {
      clients.sqs ??= new SQSClient(endpoint().clientConfig);
      return clients.sqs;
    },
    get sns() {
      clients.sns ??= new SNSClient(endpoint().clientConfig);
      return clients.sns;
    },
    get s3() {
      clients.s3 ??= new S3Client(endpoint().clientConfig);
      return clients.s3;
    },
  };
}
