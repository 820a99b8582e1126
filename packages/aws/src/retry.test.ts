import { describe, expect, it } from 'vitest';
import { backoffDelay, retryBatch } from './retry.js';

const fast = { baseMs: 1, capMs: 4 };

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    const none = { baseMs: 100, capMs: 1000, jitter: 'none' } as const;
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, none))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('jitters fully (0 to the ceiling) or equally (half to all of it)', () => {
    const options = { baseMs: 100, capMs: 1000 };
    expect(backoffDelay(3, { ...options, jitter: 'full' }, () => 0)).toBe(0);
    expect(backoffDelay(3, { ...options, jitter: 'full' }, () => 0.5)).toBe(200);
    expect(backoffDelay(3, options, () => 0)).toBe(200);
    expect(backoffDelay(3, options, () => 1)).toBe(400);
  });

  it('does not overflow on huge attempt counts', () => {
    expect(backoffDelay(10_000, { baseMs: 1, capMs: 60_000, jitter: 'none' })).toBe(60_000);
  });
});

describe('retryBatch', () => {
  it('sends again only the entries that failed transiently, until they pass', async () => {
    const calls: number[][] = [];
    const given: number[][] = [];
    await retryBatch([1, 2, 3, 4], {
      attempts: 5,
      backoff: fast,
      call: async (pending) => {
        calls.push([...pending]);
        // Entry 3 fails twice, entry 4 once; the rest pass at once.
        const failing = calls.length === 1 ? [3, 4] : calls.length === 2 ? [3] : [];
        return { retry: pending.filter((entry) => failing.includes(entry)) };
      },
      giveUp: (entries) => given.push([...entries]),
    });
    expect(calls).toEqual([[1, 2, 3, 4], [3, 4], [3]]);
    expect(given).toEqual([]);
  });

  it('gives up on what is left after the last attempt, with the last error', async () => {
    const given: { entries: number[]; error: unknown }[] = [];
    let calls = 0;
    await retryBatch([1, 2], {
      attempts: 3,
      backoff: fast,
      call: async (pending) => {
        calls += 1;
        return { retry: pending.filter((entry) => entry === 2), error: new Error(`throttled ${calls}`) };
      },
      giveUp: (entries, error) => given.push({ entries: [...entries], error }),
    });
    expect(calls).toBe(3);
    expect(given).toEqual([{ entries: [2], error: new Error('throttled 3') }]);
  });

  it('retries a whole call that threw a transient error, and gives up at once on one that will not pass', async () => {
    let calls = 0;
    const given: unknown[] = [];
    await retryBatch(['a'], {
      attempts: 4,
      backoff: fast,
      call: async () => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
        if (calls === 2) throw Object.assign(new Error('no access'), { name: 'AccessDenied' });
        return { retry: [] };
      },
      giveUp: (_entries, error) => given.push((error as Error).name),
    });
    expect(calls).toBe(2);
    expect(given).toEqual(['AccessDenied']);
  });

  it('stops waiting when its signal aborts and gives the rest up with the reason', async () => {
    const controller = new AbortController();
    const given: unknown[] = [];
    await retryBatch([1], {
      attempts: 10,
      backoff: { baseMs: 60_000, capMs: 60_000 },
      signal: controller.signal,
      call: async (pending) => {
        setImmediate(() => controller.abort(new Error('stopping')));
        return { retry: pending };
      },
      giveUp: (_entries, error) => given.push((error as Error).message),
    });
    expect(given).toEqual(['stopping']);
  });
});
