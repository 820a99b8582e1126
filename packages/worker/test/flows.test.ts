import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import type { TaskPayloads } from '@tq/contracts';
import { createProducer, type FlowSpec, isFlowValidationError, type Producer } from '@tq/producer-sdk';
import { createStatusStore, ensureStatusTable, type StatusStore } from '@tq/status';
import { queueCounts, testWorkerOptions, uniqueName, waitUntil } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createProvisioner, defineTopology } from '@tq/topology';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type FlowContext, NonRetryableError, type Worker } from '../src/index.js';
import { publishTwice } from './helpers.js';

const mail = (subject: string, onFailure?: 'fail' | 'ignore' | 'continue'): FlowSpec => ({
  task: 'send_email',
  payload: { to: ['ada@example.com'], subject, text: 'hi' } satisfies TaskPayloads['send_email'],
  ...(onFailure ? { onFailure } : {}),
});

describe('flows with real workers on the local endpoint', () => {
  const local = useLocalEndpoint();
  const prefix = uniqueName('flows');
  let store: StatusStore;
  let producer: Producer;
  const workers: Worker[] = [];
  /** Every run of the send_email handler: subject, flow path and input. */
  const runs: { id: string; subject: string; flow: FlowContext | undefined; attempt: number }[] = [];

  beforeAll(async () => {
    const { s3, sns, sqs } = local;
    await createProvisioner({ sqs, sns, s3, topology: defineTopology({ prefix }) }).apply();
    store = createStatusStore({ endpoint: local.endpoint.endpoint, prefix, coalesceMs: 10 });
    await ensureStatusTable(store.dynamodb, store.tableName);
    producer = createProducer({ endpoint: local.endpoint.endpoint, prefix, status: store });
    // One worker for the file: a stopped worker's aborted long poll may still take a message at
    // the endpoint, which would then wait out its visibility timeout.
    await startWorker(20);
  });
  afterEach(() => {
    runs.length = 0;
  });
  afterAll(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
    await producer.close();
    await store.close();
  });

  /** A send_email worker whose handler records each run, fails subjects starting with `fail`, and returns its subject. */
  async function startWorker(concurrency = 10): Promise<Worker> {
    const worker = createWorker({
      task: 'send_email',
      prefix,
      sqs: local.sqs,
      s3: local.s3,
      status: store,
      concurrency,
      ...testWorkerOptions(),
      handler: async (payload, context) => {
        runs.push({ id: context.id, subject: payload.subject, flow: context.flow, attempt: context.attempt });
        if (payload.subject.startsWith('fail')) throw new NonRetryableError(`refused ${payload.subject}`);
        if (payload.subject.startsWith('slow')) await new Promise((resolve) => setTimeout(resolve, 300));
        if (payload.subject === 'hold') {
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
          throw context.signal.reason;
        }
        // Past the 16 KiB a flow's record keeps: the result goes to the prefix's bucket.
        if (payload.subject === 'big') return { subject: 'big', blob: 'b'.repeat(40_000) };
        if (payload.subject === 'spawner') {
          const added = await context.flow?.add([mail('slow late 1'), mail('slow late 2')] as never);
          return { subject: payload.subject, added: added?.map((entry) => entry.path) };
        }
        return { subject: payload.subject, input: context.flow?.input ?? null };
      },
    });
    workers.push(worker as unknown as Worker);
    await worker.start();
    return worker as unknown as Worker;
  }

  async function flowEnds(id: string) {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const flow = await producer.flowStatus(id);
      if (flow && flow.state !== 'running') return flow;
      if (Date.now() > deadline) throw new Error(`flow ${id} still running: ${JSON.stringify(flow)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('a chain passes each result to the next step', async () => {
    const { id, tasks } = await producer.flow({ chain: [mail('one'), mail('two'), mail('three')] });
    expect(tasks.map((task) => task.path)).toEqual(['$.chain[0]', '$.chain[1]', '$.chain[2]']);
    expect((await flowEnds(id)).state).toBe('succeeded');
    expect(runs.map((run) => run.subject)).toEqual(['one', 'two', 'three']);
    const third = runs[2]?.flow;
    expect(third).toMatchObject({ id, path: '$.chain[2]' });
    expect(third?.input).toEqual({ subject: 'two', input: { subject: 'one', input: null } });
  });

  it('passes a large result by reference (S3), never in a message', async () => {
    const { id } = await producer.flow({ chain: [mail('big'), mail('after big')] });
    expect((await flowEnds(id)).state).toBe('succeeded');
    const input = runs.find((run) => run.subject === 'after big')?.flow?.input as { blob: string };
    expect(input.blob).toHaveLength(40_000);
    const listed = await local.s3.send(
      new ListObjectsV2Command({ Bucket: `${prefix}-artifacts`, Prefix: `tq/flow-results/${id}/` }),
    );
    // Both results are large (the second returns its input): each in S3 under the flow and its path.
    expect(listed.Contents?.map((object) => object.Key).sort()).toEqual([
      `tq/flow-results/${id}/$.chain[0].json`,
      `tq/flow-results/${id}/$.chain[1].json`,
    ]);
  });

  it('a chord fires its then exactly once, with every child result in order, though each child is delivered twice', async () => {
    const children = Array.from({ length: 60 }, (_, index) => mail(`child ${index}`));
    const sns = new SNSClient(local.endpoint.clientConfig);
    publishTwice(sns);
    const twice = createProducer({ endpoint: local.endpoint.endpoint, prefix, status: store, sns });
    const { id } = await twice.flow({ group: children, then: mail('summary') });
    expect((await flowEnds(id)).state).toBe('succeeded');
    const summaries = runs.filter((run) => run.subject === 'summary');
    expect(summaries).toHaveLength(1);
    const input = summaries[0]?.flow?.input as { subject: string }[];
    expect(input.map((result) => result.subject)).toEqual(children.map((_, index) => `child ${index}`));
    // Each child runs twice (two messages), yet was counted once: the summary ran once.
    const deadline = Date.now() + 90_000;
    while (runs.filter((run) => run.subject.startsWith('child')).length < 120 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(runs.filter((run) => run.subject.startsWith('child'))).toHaveLength(120);
    expect(runs.filter((run) => run.subject === 'summary')).toHaveLength(1);
    await twice.close();
    sns.destroy();
  });

  it('a failing child follows its policy: continue and ignore let the chord run, fail stops the flow', async () => {
    const tolerant = await producer.flow({
      group: [mail('kept'), mail('fail continued', 'continue'), mail('fail ignored', 'ignore')],
      then: mail('summary'),
    });
    expect((await flowEnds(tolerant.id)).state).toBe('succeeded');
    const input = runs.find((run) => run.subject === 'summary')?.flow?.input as unknown[];
    expect(input).toHaveLength(3);
    expect(input[0]).toMatchObject({ subject: 'kept' });
    expect(input[1]).toEqual({
      error: {
        task: 'send_email',
        code: expect.any(String),
        message: expect.stringContaining('refused fail continued'),
      },
    });
    expect(input[2]).toBeNull();

    runs.length = 0;
    const strict = await producer.flow({ group: [mail('fine'), mail('fail hard')], then: mail('never') });
    const ended = await flowEnds(strict.id);
    expect(ended.state).toBe('failed');
    expect(ended.error).toMatchObject({ path: '$.group[1]', message: expect.stringContaining('refused fail hard') });
    const chain = await producer.flow({ chain: [mail('fail first'), mail('never either')] });
    expect((await flowEnds(chain.id)).state).toBe('failed');
    // The flow is over: nothing after the failure was sent (the siblings still ran).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(runs.map((run) => run.subject).sort()).toEqual(['fail first', 'fail hard', 'fine']);
  });

  it('refuses a bad flow whole, with every path, before anything is sent', async () => {
    const invalid = {
      chain: [
        mail('ok'),
        {
          group: [
            { task: 'send_email', payload: { to: ['nobody'], subject: 's', text: 't' } },
            { task: 'nope', payload: {} },
          ],
        },
      ],
    } as unknown as FlowSpec;
    const refused = await producer.flow(invalid).catch((error: unknown) => error);
    expect(isFlowValidationError(refused)).toBe(true);
    const paths = (refused as { violations: { path: string }[] }).violations.map((violation) => violation.path);
    expect(paths).toEqual(['$.chain[1].group[0].payload.to[0]', '$.chain[1].group[1].task']);
    const queue = await local.sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-send_email` }));
    expect((await queueCounts(local.sqs, queue.QueueUrl as string)).visible).toBe(0);
  });

  it('children added at run time are counted before they are sent, so the then waits for them', async () => {
    const { id } = await producer.flow({ group: [mail('spawner'), mail('sibling')], then: mail('summary') });
    expect((await flowEnds(id)).state).toBe('succeeded');
    const subjects = runs.map((run) => run.subject);
    expect(subjects.indexOf('summary')).toBeGreaterThan(subjects.indexOf('slow late 2'));
    const input = runs.find((run) => run.subject === 'summary')?.flow?.input as { subject: string; added?: string[] }[];
    expect(input.map((result) => result.subject)).toEqual(['spawner', 'sibling', 'slow late 1', 'slow late 2']);
    expect(input[0]?.added).toEqual(['$.group[2]', '$.group[3]']);
    // Only a group's tasks add children: a chain's step is in none.
    const chain = await producer.flow({ chain: [mail('spawner')] });
    const ended = await flowEnds(chain.id);
    expect(ended.state).toBe('failed');
    expect(ended.error?.message).toContain('is in no group');
  });

  it('a cancelled flow stops: its running task is aborted, queued ones are not run, nothing more starts', async () => {
    const { id } = await producer.flow({
      group: [mail('hold'), { chain: [mail('hold'), mail('never')] }],
      then: mail('never'),
    });
    await waitUntil(() => runs.filter((run) => run.subject === 'hold').length === 2, 'both holds to run');
    const request = await producer.cancel(id, { reason: 'changed my mind' });
    expect(request.kind).toBe('flow');
    const flow = await flowEnds(id);
    expect(flow).toMatchObject({ state: 'cancelled', error: { code: 'CANCELLED', message: 'changed my mind' } });
    await waitUntil(async () => {
      const statuses = await Promise.all(
        runs.filter((run) => run.subject === 'hold').map((run) => store.reader.get(run.id)),
      );
      return statuses.every((status) => status?.state === 'cancelled');
    }, 'both holds to end cancelled');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(runs.map((run) => run.subject)).not.toContain('never');
  });
});
