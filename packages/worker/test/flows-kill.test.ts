import { SNSClient } from '@aws-sdk/client-sns';
import { createProducer, type FlowSpec } from '@tq/producer-sdk';
import { createStatusStore, ensureStatusTable, type StatusStore } from '@tq/status';
import { type SpawnedProcess, uniqueName, waitForExit, waitForOutput, waitUntil } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishTwice, readResults, resultsFile, spawnWorkerProcess, useHarness } from './helpers.js';

const harness = useHarness();
const CHILDREN = 1_000;

describe('a chord of 1,000 children under SIGKILLs and duplicate deliveries (real worker processes)', () => {
  const prefix = uniqueName('chord');
  let store: StatusStore;
  const children: SpawnedProcess[] = [];
  beforeAll(async () => {
    const { sqs, s3 } = harness;
    const sns = new SNSClient(harness.endpoint.clientConfig);
    await createProvisioner({ sqs, sns, s3, topology: defineTopology({ prefix, bucket: false }) }).apply();
    sns.destroy();
    store = createStatusStore({ endpoint: harness.endpoint.endpoint, prefix });
    await ensureStatusTable(store.dynamodb, store.tableName);
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await store.close();
  });

  it('fires the then exactly once, with all 1,000 results, while workers are killed', async () => {
    const file = resultsFile();
    const start = () => {
      const child = spawnWorkerProcess({
        TQ_ENDPOINT: harness.endpoint.endpoint,
        PREFIX: prefix,
        RESULTS_FILE: file,
        STATUS_TABLE: store.tableName,
        CONCURRENCY: '20',
        HANDLER_MS: '5',
        VISIBILITY: '4',
      });
      children.push(child);
      return child;
    };
    const running = [start(), start()];
    await Promise.all(running.map((child) => waitForOutput(child, /worker started/)));

    const sns = new SNSClient(harness.endpoint.clientConfig);
    publishTwice(sns);
    const producer = createProducer({ endpoint: harness.endpoint.endpoint, prefix, status: store, sns });
    const mail = (subject: string): FlowSpec => ({
      task: 'send_email',
      payload: { to: ['ada@example.com'], subject, text: 'hi' },
    });
    const { id } = await producer.flow({
      group: Array.from({ length: CHILDREN }, (_, index) => mail(`child ${index}`)),
      then: mail('all done'),
    });

    // Three SIGKILLs while the children run, each worker replaced by a fresh one.
    for (let kill = 0; kill < 3; kill += 1) {
      const done = () => readResults(file).filter((line) => line.event === 'done').length;
      const before = done();
      await waitUntil(() => done() >= before + 150, 'children to run', { timeoutMs: 120_000 });
      const victim = running.shift() as SpawnedProcess;
      victim.kill('SIGKILL');
      await waitForExit(victim);
      const fresh = start();
      running.push(fresh);
      await waitForOutput(fresh, /worker started/);
    }

    await waitUntil(async () => (await producer.flowStatus(id))?.state !== 'running', 'the flow to end', {
      timeoutMs: 300_000,
    });
    expect((await producer.flowStatus(id))?.state).toBe('succeeded');
    const lines = readResults(file);
    const childPaths = new Set(
      lines.filter((line) => line.event === 'done' && line.path?.startsWith('$.group[')).map((line) => line.path),
    );
    expect(childPaths.size).toBe(CHILDREN);
    // Sent once: one SQS message for the then, however often that message was delivered.
    const thens = lines.filter((line) => line.event === 'start' && line.path === '$.then');
    expect(new Set(thens.map((line) => line.messageId)).size).toBe(1);
    expect(thens[0]?.inputs).toBe(CHILDREN);
    await producer.close();
    sns.destroy();
    for (const child of running) child.kill('SIGKILL');
    await Promise.all(running.map((child) => waitForExit(child)));
  });
});
