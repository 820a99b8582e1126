import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createQueue, type LocalEndpoint, startLocalEndpoint } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOwnedSqsClients } from '../src/clients.js';

let endpoint: LocalEndpoint;
beforeAll(async () => {
  endpoint = await startLocalEndpoint();
});
afterAll(async () => {
  await endpoint.stop();
});

describe("the worker's own SQS clients", () => {
  it('resolve each command once (cacheMiddleware) and abort receives on the poll signal without per-call options', async () => {
    const abort = new AbortController();
    const clients = createOwnedSqsClients(endpoint.clientConfig, abort.signal);
    try {
      expect(clients.sqs.config.cacheMiddleware).toBe(true);
      expect(clients.receiver.config.cacheMiddleware).toBe(true);
      const queue = await createQueue(clients.sqs);
      // The same command class twice gives one cached handler: a stack added to after the first
      // call is not resolved again (what the SDK documents for cacheMiddleware).
      const first = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: queue.name }));
      let lateMiddlewareRan = false;
      clients.sqs.middlewareStack.add(
        (next) => (args) => {
          lateMiddlewareRan = true;
          return next(args);
        },
        { step: 'initialize' },
      );
      const second = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: queue.name }));
      expect(second.QueueUrl).toBe(first.QueueUrl);
      expect(lateMiddlewareRan).toBe(false);

      const poll = clients.receiver.send(
        new ReceiveMessageCommand({ QueueUrl: queue.url, WaitTimeSeconds: 20, MaxNumberOfMessages: 1 }),
      );
      abort.abort();
      await expect(poll).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      clients.sqs.destroy();
      clients.receiver.destroy();
    }
  });
});
