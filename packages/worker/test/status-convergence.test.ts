import { createStatusStore, ensureStatusTable, type StatusStore, type TaskStatus } from '@tq/status';
import {
  queueCounts,
  type SpawnedProcess,
  startHoldingProxy,
  waitForExit,
  waitForOutput,
  waitUntil,
} from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readResults, resultsFile, sendMany, spawnWorkerProcess, useHarness } from './helpers.js';

const harness = useHarness();

describe('status converges with what happened, whatever kills the worker (real child processes)', () => {
  let store: StatusStore;
  const tableName = 'convergence-status';
  const children: SpawnedProcess[] = [];
  beforeAll(async () => {
    store = createStatusStore({ endpoint: harness.endpoint.endpoint, tableName });
    await ensureStatusTable(store.dynamodb, tableName);
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await store.close();
  });

  function startWorker(endpoint: string, queueUrl: string, file: string, env: Record<string, string> = {}) {
    const child = spawnWorkerProcess({
      TQ_ENDPOINT: endpoint,
      QUEUE_URL: queueUrl,
      RESULTS_FILE: file,
      STATUS_TABLE: tableName,
      ...env,
    });
    children.push(child);
    return child;
  }

  const drained = (queueUrl: string) => async () => {
    const counts = await queueCounts(harness.sqs, queueUrl);
    return counts.visible + counts.inFlight + counts.delayed === 0;
  };

  it('deletes no message before its succeeded step is in the table; killed in between, the redelivery writes it', async () => {
    const { queue } = await harness.queues();
    const proxy = await startHoldingProxy(harness.endpoint.endpoint);
    const file = resultsFile();
    try {
      proxy.hold(/^DynamoDB_20120810\.BatchWriteItem$/);
      const first = startWorker(proxy.url, queue.url, file, { VISIBILITY: '3' });
      await waitForOutput(first, /worker started/);
      const [id] = await sendMany(harness.sqs, queue.url, 1);
      await waitUntil(() => readResults(file).some((line) => line.event === 'done' && line.id === id), 'the handler');
      await proxy.held();
      // The status write is out and unanswered: the delete has to wait for it.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(proxy.operations.filter((operation) => /DeleteMessage/.test(operation))).toEqual([]);
      first.kill('SIGKILL');
      await waitForExit(first);
      proxy.release('drop');
      // The message comes back after its visibility timeout; a new worker runs it and records it.
      const second = startWorker(harness.endpoint.endpoint, queue.url, file);
      await waitUntil(drained(queue.url), 'the redelivered message to be settled');
      second.kill('SIGTERM');
      await waitForExit(second);
      const status = (await store.reader.get(id as string)) as TaskStatus;
      expect(status.state).toBe('succeeded');
      expect(status.attempts).toBe(2);
    } finally {
      await proxy.stop();
    }
  });

  it('soak: 600 tasks, a worker killed with SIGKILL five times mid-run; every task reads succeeded at the end', async () => {
    const { queue } = await harness.queues();
    const file = resultsFile();
    const ids = await sendMany(harness.sqs, queue.url, 600);
    const env = { VISIBILITY: '2', CONCURRENCY: '20', HANDLER_MS: '5' };
    const done = () =>
      new Set(
        readResults(file)
          .filter((line) => line.event === 'done')
          .map((line) => line.id),
      ).size;
    for (let kill = 1; kill <= 5; kill += 1) {
      const worker = startWorker(harness.endpoint.endpoint, queue.url, file, env);
      const before = done();
      // Killed while it runs tasks at full speed: some finished, some running, some steps buffered.
      await waitUntil(() => done() >= Math.min(before + 60, ids.length - 50), `worker ${kill} to run tasks`);
      worker.kill('SIGKILL');
      await waitForExit(worker);
    }
    const last = startWorker(harness.endpoint.endpoint, queue.url, file, env);
    await waitUntil(drained(queue.url), 'every task to be settled');
    last.kill('SIGTERM');
    expect((await waitForExit(last)).code).toBe(0);

    expect(done()).toBe(ids.length);
    const states = new Map<string, string>();
    for (let start = 0; start < ids.length; start += 25) {
      const chunk = ids.slice(start, start + 25);
      const statuses = await Promise.all(chunk.map((id) => store.reader.get(id)));
      for (const [i, id] of chunk.entries()) states.set(id, statuses[i]?.state ?? 'none');
    }
    const wrong = [...states].filter(([, state]) => state !== 'succeeded');
    expect(wrong).toEqual([]);
  });
});
