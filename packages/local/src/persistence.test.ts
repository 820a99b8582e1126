import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { debouncedSaver, SAVE_DELAY_MS } from './persistence.js';

describe('debouncedSaver', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('close() cancels a pending save: no save runs after it, whatever changes later', async () => {
    const save = vi.fn(async () => undefined);
    const saver = debouncedSaver(save, () => undefined);
    saver.changed();
    await saver.close();
    saver.changed();
    await vi.advanceTimersByTimeAsync(SAVE_DELAY_MS * 10);
    expect(save).not.toHaveBeenCalled();
  });

  it('close() waits for a save already running', async () => {
    let finish = () => {};
    const save = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const saver = debouncedSaver(save, () => undefined);
    saver.changed();
    await vi.advanceTimersByTimeAsync(SAVE_DELAY_MS);
    expect(save).toHaveBeenCalledTimes(1);
    let closed = false;
    const closing = saver.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(closed).toBe(false);
    finish();
    await closing;
    expect(closed).toBe(true);
    expect(save).toHaveBeenCalledTimes(1);
  });
});
