import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { queueCounts, startLocalEndpoint, waitForExit, waitForOutput, waitUntil } from '@tq/testing';
import { describe, expect, it } from 'vitest';
import { createWorker } from '../src/index.js';
import {
  latch,
  readResults,
  record,
  resultsFile,
  sendEnvelope,
  sendMany,
  silent,
  spawnWorkerProcess,
  useHarness,
} from './helpers.js';

const harness = useHarness();

describe('shutdown', () => {
  it.each([
    ['an injected client', false],
    ["the worker's own clients", true],
  ])(
    'stop() aborts a 20 s long poll at once, with %s',
    async (_, own) => {
      const { queue } = await harness.queues();
      const options = {
        task: 'send_email',
        queueUrl: queue.url,
        waitTimeSeconds: 20,
        handler: () => undefined,
      } as const;
      const worker = own
        ? // Without an injected client the worker makes its own from the endpoint setting.
          createWorker({ ...options, endpoint: harness.endpoint.endpoint, logger: silent, handleSignals: false })
        : harness.worker(options);
      const succeeded = record(worker, 'succeeded');
      await worker.start();
      const id = await sendEnvelope(harness.sqs, queue.url);
      expect((await succeeded.waitFor(1))[0]?.id).toBe(id);
      // The polls now wait on an empty queue. Without the abort, stop() would wait for them (20 s).
      const outcome = await Promise.race([
        worker.stop().then(() => 'stopped'),
        new Promise((resolve) => setTimeout(resolve, 15_000, 'still polling')),
      ]);
      expect(outcome).toBe('stopped');
      expect(worker.state).toBe('stopped');
    },
    30_000,
  );

  it('stop() finishes running handlers, returns nothing unfinished, and a new worker takes the rest', async () => {
    const { queue } = await harness.queues();
    const ids = await sendMany(harness.sqs, queue.url, 40);
    const done: string[] = [];
    const first = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 5,
      handler: async (_payload, context) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        done.push(context.id);
      },
    });
    const firstDone = record(first, 'succeeded');
    await first.start();
    await firstDone.waitFor(8);
    await first.stop();
    expect(first.state).toBe('stopped');
    const afterStop = done.length;
    // Every message it held was finished and deleted, none is stuck in flight.
    expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ inFlight: 0, visible: 40 - afterStop });

    const second = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      concurrency: 10,
      handler: (_payload, context) => {
        done.push(context.id);
      },
    });
    const secondDone = record(second, 'succeeded');
    await second.start();
    await secondDone.waitFor(40 - afterStop);
    expect(done.sort()).toEqual([...ids].sort());
  });

  it('aborts handlers still running when the grace period ends and returns their messages at once', async () => {
    const { queue } = await harness.queues();
    const started = latch();
    const first = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      shutdownGraceMs: 200,
      visibilityTimeoutSeconds: 600,
      handler: async (_payload, context) => {
        started.open();
        await new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason)));
      },
    });
    const released = record(first, 'released');
    const retried = record(first, 'retrying');
    await first.start();
    const id = await sendEnvelope(harness.sqs, queue.url);
    await started.promise;
    await first.stop();
    expect(released.items).toHaveLength(1);
    expect(retried.items).toHaveLength(0);

    // Visible again right away (not after the 600 s visibility timeout).
    const second = harness.worker({ task: 'send_email', queueUrl: queue.url, handler: () => undefined });
    const succeeded = record(second, 'succeeded');
    await second.start();
    const [result] = await succeeded.waitFor(1);
    expect(result?.id).toBe(id);
  });
});

describe('worker processes (real child processes)', () => {
  it('a task whose worker is killed with SIGKILL runs again after the visibility timeout', async () => {
    const { queue } = await harness.queues();
    const file = resultsFile();
    const id = await sendEnvelope(harness.sqs, queue.url);
    const child = spawnWorkerProcess({
      TQ_ENDPOINT: harness.endpoint.endpoint,
      QUEUE_URL: queue.url,
      RESULTS_FILE: file,
      HANDLER_MS: '60000',
      VISIBILITY: '3',
    });
    try {
      await waitUntil(
        () => readResults(file).find((line) => line.event === 'start' && line.id === id),
        'the handler to start',
      );
      child.kill('SIGKILL');
      expect((await waitForExit(child)).signal).toBe('SIGKILL');
    } finally {
      child.kill('SIGKILL');
    }
    const killedAt = Date.now();
    const second = harness.worker({ task: 'send_email', queueUrl: queue.url, handler: () => undefined });
    const succeeded = record(second, 'succeeded');
    await second.start();
    const [result] = await succeeded.waitFor(1);
    expect(result).toMatchObject({ id, attempt: 2 });
    // The heartbeat died with the process, so SQS redelivered after the 3 s visibility timeout.
    expect(Date.now() - killedAt).toBeGreaterThan(1000);
  });

  it('SIGTERM during a burst of 100: exit 0, and every task runs exactly once across the old and a new worker', async () => {
    const { queue } = await harness.queues();
    const file = resultsFile();
    const ids = await sendMany(harness.sqs, queue.url, 100);
    const env = {
      TQ_ENDPOINT: harness.endpoint.endpoint,
      QUEUE_URL: queue.url,
      RESULTS_FILE: file,
      HANDLER_MS: '150',
      CONCURRENCY: '8',
      VISIBILITY: '5',
    };
    const old = spawnWorkerProcess(env);
    try {
      await waitForOutput(old, /worker started/);
      await waitUntil(() => readResults(file).filter((line) => line.event === 'done').length >= 20, '20 tasks done');
      old.kill('SIGTERM');
      const exit = await waitForExit(old);
      expect(exit, old.output()).toEqual({ code: 0, signal: null });
    } finally {
      old.kill('SIGKILL');
    }
    expect(readResults(file).at(-1)?.event).toBe('stopped');

    const fresh = spawnWorkerProcess(env);
    try {
      await waitUntil(
        () =>
          new Set(
            readResults(file)
              .filter((l) => l.event === 'done')
              .map((l) => l.id),
          ).size >= 100,
        '100 distinct tasks done',
      );
      fresh.kill('SIGTERM');
      expect((await waitForExit(fresh)).code).toBe(0);
    } finally {
      fresh.kill('SIGKILL');
    }
    const lines = readResults(file);
    const done = lines.filter((line) => line.event === 'done').map((line) => line.id);
    const starts = lines.filter((line) => line.event === 'start').map((line) => line.id);
    expect(done.sort()).toEqual([...ids].sort());
    // Exactly once: no task even started twice because of the shutdown.
    expect(starts).toHaveLength(100);
    expect(new Set(lines.filter((l) => l.event !== 'stopped').map((l) => l.pid)).size).toBe(2);
    expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ visible: 0, inFlight: 0 });
  });
});

describe('outages', () => {
  it('backs off while the endpoint is down, reports not ready, and resumes by itself', async () => {
    const endpoint = await startLocalEndpoint();
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    const sqs = new SQSClient({ ...endpoint.clientConfig, maxAttempts: 1 });
    const name = `outage-${Math.random().toString(36).slice(2, 8)}`;
    const create = async () => {
      const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
      const out = await sqs.send(new CreateQueueCommand({ QueueName: name }));
      return { url: out.QueueUrl as string, dlqUrl: dlq.QueueUrl as string };
    };
    let restarted: Awaited<ReturnType<typeof startLocalEndpoint>> | undefined;
    try {
      const { url, dlqUrl } = await create();
      const worker = harness.worker({
        task: 'send_email',
        sqs,
        queueUrl: url,
        deadLetterQueueUrl: dlqUrl,
        receiveBackoff: { baseMs: 100, capMs: 1000 },
        http: { port: 0 },
        handler: () => undefined,
      });
      const errors = record(worker, 'receive-error');
      const recovered = record(worker, 'receive-recovered');
      const succeeded = record(worker, 'succeeded');
      await worker.start();
      const readyz = async () => (await fetch(`http://127.0.0.1:${worker.http?.port}/readyz`)).status;
      expect(await readyz()).toBe(200);

      await endpoint.stop();
      const errorTimes: number[] = [];
      worker.on('receive-error', () => errorTimes.push(Date.now()));
      await errors.waitFor(1);
      expect(worker.ready).toBe(false);
      expect(await readyz()).toBe(503);
      await errors.waitFor(errors.items.length + 4);
      // Backed off, not a tight loop: each retry waits at least half its exponential ceiling
      // (base 100 ms, cap 1 s), and the next failure comes no sooner than announced.
      const items = errors.items;
      for (const [index, item] of items.entries()) {
        expect(item.consecutive).toBe(index + 1);
        const ceiling = Math.min(1000, 100 * 2 ** index);
        expect(item.retryInMs).toBeGreaterThanOrEqual(ceiling / 2);
        expect(item.retryInMs).toBeLessThanOrEqual(ceiling);
      }
      for (let i = 1; i < errorTimes.length; i += 1) {
        const announced = items[items.length - errorTimes.length + i - 1]?.retryInMs ?? 0;
        expect((errorTimes[i] as number) - (errorTimes[i - 1] as number)).toBeGreaterThanOrEqual(announced - 20);
      }

      restarted = await startLocalEndpoint({ port: endpoint.port });
      await create();
      await sendEnvelope(sqs, url);
      await recovered.waitFor(1);
      await succeeded.waitFor(1);
      expect(worker.ready).toBe(true);
      expect(await readyz()).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${worker.http?.port}/metrics`)).text();
      expect(metrics).toMatch(/tq_receive_errors_total\{task="send_email"\} \d+/);
      await worker.stop();
    } finally {
      sqs.destroy();
      await restarted?.stop();
    }
  });
});
