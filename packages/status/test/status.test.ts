import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createStatusStore,
  ensureStatusTable,
  event,
  findArtifacts,
  findInputs,
  MAX_TIMELINE_ATTEMPTS,
  StatusNotTrackedError,
  type StatusStore,
  StatusWriter,
} from '../src/index.js';

describe('status store against the local endpoint (DynamoDB served by dynalite on its port)', () => {
  const local = useLocalEndpoint();
  let store: StatusStore;

  beforeAll(async () => {
    store = createStatusStore({ endpoint: local.endpoint.endpoint, tableName: 'status-test', coalesceMs: 20 });
    expect(await ensureStatusTable(store.dynamodb, store.tableName)).toBe('created');
    expect(await ensureStatusTable(store.dynamodb, store.tableName)).toBe('exists');
  });
  afterAll(async () => {
    await store.close();
  });

  it('records a timeline; quick steps of one task coalesce into one item', async () => {
    const { writer, reader } = store;
    const before = writer.stats.written;
    writer.record('t-1', 'generate_report', event('sent', 0));
    writer.record('t-1', 'generate_report', event('received', 1));
    writer.record('t-1', 'generate_report', event('running', 1));
    writer.record('t-1', 'generate_report', event('succeeded', 1, { durationMs: 42 }), {
      result: { pdf: 's3://tq-artifacts/r/report.pdf', pages: 3, nested: { thumb: 's3://tq-artifacts/r/p1.png' } },
    });
    await writer.flush();
    expect(writer.stats.written - before).toBe(1);
    const status = await reader.get('t-1');
    expect(status).toMatchObject({
      id: 't-1',
      task: 'generate_report',
      state: 'succeeded',
      attempts: 1,
      durationMs: 42,
      result: { pages: 3 },
      artifacts: ['s3://tq-artifacts/r/report.pdf', 's3://tq-artifacts/r/p1.png'],
    });
    expect(status?.events.map((step) => step.state)).toEqual(['sent', 'received', 'running', 'succeeded']);
    expect(status?.finishedAt).toBe(status?.events[3]?.at);
  });

  it('never lets a late or stale step overwrite a final state; it joins the timeline as a duplicate', async () => {
    const { writer, reader } = store;
    writer.record('t-2', 'send_email', event('running', 1));
    writer.record('t-2', 'send_email', event('retrying', 1, { delaySeconds: 2, code: 'Error', message: 'SMTP 451' }), {
      error: { code: 'Error', message: 'SMTP 451' },
    });
    await writer.flush();
    expect(await reader.get('t-2')).toMatchObject({ state: 'retrying', error: { message: 'SMTP 451' } });
    writer.record('t-2', 'send_email', event('succeeded', 2, { durationMs: 5 }), { result: { messageId: '<x@y>' } });
    await writer.flush();
    // A stale retry of attempt 1 and a duplicate delivery after success.
    writer.record('t-2', 'send_email', event('retrying', 1, { message: 'late' }), { error: { message: 'late' } });
    await writer.flush();
    writer.record('t-2', 'send_email', event('received', 3));
    await writer.flush();
    const status = await reader.get('t-2');
    // Three deliveries were seen; the state is still the first final one's.
    expect(status).toMatchObject({ state: 'succeeded', attempts: 3, result: { messageId: '<x@y>' } });
    expect(status?.error).toBeUndefined();
    const last = status?.events[status.events.length - 1];
    expect(last).toMatchObject({ state: 'received', attempt: 3, duplicate: true });
  });

  it('keeps the timeline bounded for a task redelivered many times, its state current', async () => {
    const { writer, reader } = store;
    for (let attempt = 1; attempt <= MAX_TIMELINE_ATTEMPTS + 5; attempt += 1) {
      writer.record('t-3', 'cleanup_data', event('running', attempt));
      writer.record('t-3', 'cleanup_data', event('retrying', attempt, { message: 'again' }), {
        error: { message: 'again' },
      });
      await writer.flush();
    }
    writer.record(
      't-3',
      'cleanup_data',
      event('dead-lettered', MAX_TIMELINE_ATTEMPTS + 6, { code: 'RETRIES_EXHAUSTED' }),
      {
        error: { code: 'RETRIES_EXHAUSTED', message: 'again' },
      },
    );
    await writer.flush();
    const status = await reader.get('t-3');
    expect(status).toMatchObject({ state: 'dead-lettered', attempts: MAX_TIMELINE_ATTEMPTS + 6 });
    expect(status?.events).toHaveLength(MAX_TIMELINE_ATTEMPTS * 2 + 1);
    expect(status?.events.at(-1)).toMatchObject({ state: 'dead-lettered', code: 'RETRIES_EXHAUSTED' });
  });

  it("lists a task type's recently finished tasks, newest first, by state", async () => {
    const { writer, reader } = store;
    for (const id of ['r-1', 'r-2', 'r-3']) {
      writer.record(id, 'process_image', event('succeeded', 1, { durationMs: 1 }), {
        result: { uri: `s3://b/${id}.webp` },
      });
      await writer.flush();
    }
    writer.record('r-4', 'process_image', event('retrying', 1, { message: 'x' }), { error: { message: 'x' } });
    await writer.flush();
    const recent = await reader.recent('process_image', { limit: 2, state: 'succeeded' });
    expect(recent.map((status) => status.id)).toEqual(['r-3', 'r-2']);
    // Only finished tasks are listed: r-4 is still retrying.
    expect((await reader.recent('process_image')).map((status) => status.id)).toEqual(['r-3', 'r-2', 'r-1']);
  });

  it('lists the newest finished tasks exactly, across index items of several writers and calls', async () => {
    // Two workers record interleaved finishing times of three task types; one flush carries 60
    // tasks, so the calls (25 items at most, index items included) split them several ways.
    const second = createStatusStore({ endpoint: local.endpoint.endpoint, tableName: store.tableName, coalesceMs: 20 });
    const types = ['send_email', 'cleanup_data', 'generate_report'] as const;
    // Later than anything the other tests record in this table.
    const base = Date.parse('2031-01-01T10:00:00.000Z');
    const finished: { id: string; task: string; at: string; state: 'succeeded' | 'dead-lettered' }[] = [];
    for (let i = 0; i < 80; i += 1) {
      const task = types[i % 3] as string;
      const at = new Date(base + ((i * 37) % 80) * 1000).toISOString();
      const state = i % 7 === 0 ? 'dead-lettered' : 'succeeded';
      const writer = i % 4 === 0 ? second.writer : store.writer;
      const id = `x-${i}`;
      writer.record(id, task, { state: 'running', attempt: 1, at });
      writer.record(
        id,
        task,
        { state, attempt: 1, at },
        state === 'succeeded' ? { result: i } : { error: { message: 'no' } },
      );
      finished.push({ id, task, at, state });
    }
    await Promise.all([store.writer.flush(), second.writer.flush()]);
    expect(store.writer.stats).toMatchObject({ failed: 0, dropped: 0 });
    expect(second.writer.stats).toMatchObject({ written: 20, failed: 0, dropped: 0 });
    for (const task of types) {
      const newest = (state?: string) =>
        finished
          .filter((entry) => entry.task === task && (!state || entry.state === state))
          .sort((a, b) => b.at.localeCompare(a.at))
          .slice(0, 12)
          .map((entry) => entry.id);
      expect((await store.reader.recent(task, { limit: 12 })).map((status) => status.id)).toEqual(newest());
      expect((await store.reader.recent(task, { limit: 12, state: 'succeeded' })).map((status) => status.id)).toEqual(
        newest('succeeded'),
      );
    }
    // An index key is not a task.
    expect(await store.reader.get('#recent#send_email')).toBeUndefined();
    await second.close();
  });

  it('a missing table reads as "not tracked"; an unreachable store is reported once and never throws', async () => {
    const missing = createStatusStore({ endpoint: local.endpoint.endpoint, tableName: 'no-such-table' });
    await expect(missing.reader.get('x')).rejects.toBeInstanceOf(StatusNotTrackedError);
    await missing.close();

    const outages: string[] = [];
    const dynamodb = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const writer = new StatusWriter({
      dynamodb,
      tableName: 'status-test',
      coalesceMs: 1,
      onOutage: (change) => outages.push(change.kind),
    });
    for (let i = 0; i < 5; i += 1) writer.record(`down-${i}`, 'send_email', event('running', 1));
    await writer.flush();
    expect(writer.stats).toMatchObject({ written: 0, failed: 5 });
    expect(outages).toEqual(['down']);
    dynamodb.destroy();
  });

  it("tells a payload's inputs from the outputs it names", () => {
    const payload = {
      source: 's3://b/in.csv',
      attachments: [{ filename: 'a.pdf', source: 's3://b/a.pdf' }],
      destination: 's3://b/out/report.pdf',
    };
    expect(findInputs(payload)).toEqual(['s3://b/in.csv', 's3://b/a.pdf']);
  });

  it('finds the s3:// URIs of a result', () => {
    expect(findArtifacts({ a: ['s3://b/k1', 'http://x', { c: 's3://b/k2' }], d: 's3://b/k1' })).toEqual([
      's3://b/k1',
      's3://b/k2',
    ]);
  });
});
