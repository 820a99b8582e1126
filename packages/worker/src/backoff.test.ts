import { describe, expect, it } from 'vitest';
import { backoffMs, retryDelaySeconds } from './backoff.js';

describe('retryDelaySeconds', () => {
  it('doubles per attempt up to the cap without jitter', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) =>
      retryDelaySeconds(attempt, { baseSeconds: 2, capSeconds: 30, jitter: 'none' }),
    );
    expect(delays).toEqual([2, 4, 8, 16, 30, 30]);
  });

  it('draws full jitter between 0 and the ceiling', () => {
    expect(retryDelaySeconds(3, { baseSeconds: 2 }, () => 0)).toBe(0);
    expect(retryDelaySeconds(3, { baseSeconds: 2 }, () => 0.5)).toBe(4);
    expect(retryDelaySeconds(3, { baseSeconds: 2 }, () => 0.999)).toBe(8);
  });

  it('never exceeds what SQS accepts', () => {
    expect(retryDelaySeconds(60, { baseSeconds: 10, capSeconds: 100_000, jitter: 'none' })).toBe(43_200);
  });
});

describe('backoffMs', () => {
  it('stays between half the ceiling and the ceiling', () => {
    expect(backoffMs(1, 100, 5000, () => 0)).toBe(50);
    expect(backoffMs(4, 100, 5000, () => 1)).toBe(800);
    expect(backoffMs(20, 100, 5000, () => 1)).toBe(5000);
  });
});
