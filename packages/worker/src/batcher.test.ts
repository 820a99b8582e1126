import { afterEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from './batcher.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A batcher whose calls take `callMs`; records each call's size. */
function slowBatcher(callMs: number, windowMs: number) {
  const sizes: number[] = [];
  const batcher = new Batcher<number>({
    windowMs,
    send: async (entries) => {
      sizes.push(entries.length);
      await new Promise((resolve) => setTimeout(resolve, callMs));
      return new Map();
    },
  });
  return { batcher, sizes };
}

describe('Batcher', () => {
  it('under a steady trickle, sends whole batches instead of what gathered during each call', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    // One entry a millisecond, calls of 3 ms, a 10 ms window: entries gathering while a call is
    // out wait for company (up to the window) rather than leaving as a batch of three.
    const { batcher, sizes } = slowBatcher(3, 10);
    const done: Promise<void>[] = [];
    for (let i = 0; i < 100; i += 1) {
      done.push(batcher.add(i));
      await vi.advanceTimersByTimeAsync(1);
    }
    const flushed = batcher.flush();
    await vi.advanceTimersByTimeAsync(100);
    await flushed;
    await Promise.all(done);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(100);
    expect(sizes.length).toBeLessThanOrEqual(11);
    expect(sizes.slice(0, -1).every((size) => size === 10)).toBe(true);
  });

  it('sends a lone entry once its window is over, and what gathered during a call once the oldest waited that long', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { batcher, sizes } = slowBatcher(30, 10);
    const first = batcher.add(1);
    await vi.advanceTimersByTimeAsync(9);
    expect(sizes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sizes).toEqual([1]);
    // Two entries join while that call is out (30 ms); the first of them has waited 20 ms when it
    // ends, past the window: they go at once.
    await vi.advanceTimersByTimeAsync(5);
    const second = batcher.add(2);
    const third = batcher.add(3);
    await vi.advanceTimersByTimeAsync(25);
    expect(sizes).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(30);
    await Promise.all([first, second, third]);
  });
});
