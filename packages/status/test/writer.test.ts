import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { event, isoTime, StatusWriter } from '../src/index.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A DynamoDB client that accepts every `BatchWriteItem` after `callMs`, counting the items. */
function stubDynamoDb(callMs: number) {
  const calls: number[] = [];
  const client = {
    send(command: { input: { RequestItems: Record<string, unknown[]> } }) {
      const items = Object.values(command.input.RequestItems).reduce((sum, list) => sum + list.length, 0);
      calls.push(items);
      return new Promise((resolve) => setTimeout(() => resolve({ UnprocessedItems: {} }), callMs));
    },
  };
  return { client: client as unknown as DynamoDBClient, calls };
}

describe('StatusWriter', () => {
  it('keeps up with a worker recording 5,000 tasks a second: a finished call starts the next at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const { client, calls } = stubDynamoDb(20);
    const writer = new StatusWriter({ dynamodb: client, tableName: 'status' });
    let n = 0;
    // One second of a busy worker: 5 quick tasks a millisecond, each received, running, succeeded.
    for (let ms = 0; ms < 1000; ms += 1) {
      for (let i = 0; i < 5; i += 1) {
        const id = `t-${n++}`;
        const at = new Date().toISOString();
        writer.record(id, 'send_email', { state: 'received', attempt: 1, at });
        writer.record(id, 'send_email', { state: 'running', attempt: 1, at });
        writer.record(id, 'send_email', { state: 'succeeded', attempt: 1, at, durationMs: 0 });
      }
      await vi.advanceTimersByTimeAsync(1);
    }
    // Calls of 20 ms, 8 at once, 24 tasks each: about 9,600 tasks a second. Only the last window's
    // tasks (100 ms, coalescing) and the calls in flight are left; a timer between rounds of
    // calls capped the writer at 2,000 a second.
    expect(writer.stats.written).toBeGreaterThan(4000);
    expect(writer.pendingCount).toBeLessThan(1000);
    const flushed = writer.flush();
    await vi.advanceTimersByTimeAsync(1000);
    await flushed;
    expect(writer.stats).toEqual({ written: 5000, failed: 0, dropped: 0 });
    // One item per task (its three steps coalesced), plus one index item per call.
    expect(calls.reduce((sum, items) => sum + items, 0)).toBe(5000 + calls.length);
    // Settled tasks fill whole calls (24 tasks and the index item): 209 calls for 5,000 tasks,
    // not a call for whichever few windows ended since the last one.
    expect(calls.length).toBe(Math.ceil(5000 / 24));
    expect(calls.filter((items) => items < 25).length).toBeLessThanOrEqual(1);
  });

  it('sends a full call of settled tasks at once, and holds a running task for its window', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const { client, calls } = stubDynamoDb(1);
    const writer = new StatusWriter({ dynamodb: client, tableName: 'status', coalesceMs: 100 });
    const at = () => new Date().toISOString();
    writer.record('long', 'send_email', { state: 'running', attempt: 1, at: at() });
    for (let i = 0; i < 23; i += 1) {
      writer.record(`t-${i}`, 'send_email', { state: 'running', attempt: 1, at: at() });
      writer.record(`t-${i}`, 'send_email', { state: 'succeeded', attempt: 1, at: at() });
    }
    // 23 settled tasks and their index item do not fill a call: nothing goes before the window.
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toEqual([]);
    writer.record('t-23', 'send_email', { state: 'retrying', attempt: 1, at: at(), delaySeconds: 5 });
    // The 24th settled task (a retry settles its attempt too) fills a call: it leaves at once,
    // without the running task, whose later steps would otherwise go in an item of their own.
    expect(calls).toEqual([25]);
    await vi.advanceTimersByTimeAsync(50);
    writer.record('long', 'send_email', { state: 'succeeded', attempt: 1, at: at() });
    expect(calls).toEqual([25]);
    // At the end of its window the running task goes, both steps in one item, with its index item.
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toEqual([25, 2]);
    await writer.flush();
    expect(writer.stats.written).toBe(25);
  });

  it('still coalesces a task whose steps arrive within the window into one item', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const { client, calls } = stubDynamoDb(1);
    const writer = new StatusWriter({ dynamodb: client, tableName: 'status', coalesceMs: 100 });
    writer.record('a', 'send_email', { state: 'running', attempt: 1, at: new Date().toISOString() });
    await vi.advanceTimersByTimeAsync(60);
    writer.record('a', 'send_email', { state: 'succeeded', attempt: 1, at: new Date().toISOString() });
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    // One call: the task's item (both steps) and its type's index item.
    expect(calls).toEqual([2]);
    await writer.flush();
    expect(writer.stats.written).toBe(1);
  });

  it('tells a waiter once its step is in the table, or that it was given up on', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    // Accepts calls but leaves task `b` unprocessed every time (throttled past the retries).
    let release: () => void = () => {};
    const client = {
      send(command: { input: { RequestItems: Record<string, { PutRequest: { Item: { id: { S: string } } } }[]> } }) {
        const requests = Object.values(command.input.RequestItems)[0] ?? [];
        const left = requests.filter((request) => request.PutRequest.Item.id.S === 'b');
        return new Promise((resolve) => {
          release = () => resolve({ UnprocessedItems: left.length > 0 ? { status: left } : {} });
        });
      },
    } as unknown as DynamoDBClient;
    const writer = new StatusWriter({ dynamodb: client, tableName: 'status', coalesceMs: 10 });
    const heard: [string, boolean][] = [];
    const hear = (written: boolean, token: string) => heard.push([token, written]);
    const at = new Date().toISOString();
    writer.record('a', 'send_email', { state: 'running', attempt: 1, at });
    writer.record('a', 'send_email', { state: 'succeeded', attempt: 1, at }, {}, hear, 'a');
    writer.record('b', 'send_email', { state: 'succeeded', attempt: 1, at }, {}, hear, 'b');
    await vi.advanceTimersByTimeAsync(10);
    // The call is out but has not answered: nobody is told anything yet.
    expect(heard).toEqual([]);
    release();
    // `b` is tried again with growing waits, then given up on; `a` was written in the first call.
    for (let i = 0; i < 4; i += 1) {
      await vi.advanceTimersByTimeAsync(1000);
      release();
    }
    await writer.flush();
    expect(heard.sort()).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(writer.stats).toMatchObject({ written: 1, failed: 1 });
  });

  it('tells a waiter at once when its step is dropped at maxPending', () => {
    const { client } = stubDynamoDb(1);
    const writer = new StatusWriter({ dynamodb: client, tableName: 'status', maxPending: 1 });
    const at = new Date().toISOString();
    const heard: boolean[] = [];
    writer.record('a', 'send_email', { state: 'running', attempt: 1, at });
    writer.record('b', 'send_email', { state: 'succeeded', attempt: 1, at }, {}, (written) => heard.push(written));
    expect(heard).toEqual([false]);
    expect(writer.stats.dropped).toBe(1);
    return writer.flush();
  });

  it('stamps steps with the ISO time of their millisecond', () => {
    for (const ms of [0, 1_764_547_200_000, 1_764_547_200_000, 1_764_547_200_001, 1_764_547_199_999]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
    expect(event('received', 2, undefined, isoTime(5))).toEqual({
      state: 'received',
      attempt: 2,
      at: '1970-01-01T00:00:00.005Z',
    });
    const step = event('succeeded', 1, { durationMs: 3 });
    expect(step).toMatchObject({ state: 'succeeded', attempt: 1, durationMs: 3 });
    expect(Math.abs(Date.parse(step.at) - Date.now())).toBeLessThan(60_000);
  });
});
