import { describe, expect, it } from 'vitest';
import { planBatches } from './plan.js';

const entry = (destination: string, bytes: number, id: number, limit = 1000) => ({ destination, bytes, limit, id });
const ids = (batches: { destination: string; entries: { id: number }[] }[]) =>
  batches.map((batch) => `${batch.destination}:${batch.entries.map((e) => e.id).join(',')}`);

describe('planBatches', () => {
  it('groups by destination in first-appearance order, keeping input order within each', () => {
    const batches = planBatches([entry('b', 1, 0), entry('a', 1, 1), entry('b', 1, 2), entry('a', 1, 3)]);
    expect(ids(batches)).toEqual(['b:0,2', 'a:1,3']);
  });

  it('cuts at 10 entries', () => {
    const batches = planBatches(Array.from({ length: 23 }, (_, i) => entry('q', 1, i)));
    expect(batches.map((batch) => batch.entries.length)).toEqual([10, 10, 3]);
    expect(batches.flatMap((batch) => batch.entries.map((e) => e.id))).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it('cuts where the next entry would pass the byte limit, an entry of exactly the limit alone', () => {
    const batches = planBatches([entry('q', 400, 0), entry('q', 600, 1), entry('q', 1, 2), entry('q', 1000, 3)]);
    expect(ids(batches)).toEqual(['q:0,1', 'q:2', 'q:3']);
    expect(planBatches([entry('q', 1500, 0)]).map((batch) => batch.entries.length)).toEqual([1]);
  });

  it('plans nothing for nothing, and honours a smaller batch size', () => {
    expect(planBatches([])).toEqual([]);
    expect(planBatches([entry('q', 1, 0), entry('q', 1, 1), entry('q', 1, 2)], 2).map((b) => b.entries.length)).toEqual(
      [2, 1],
    );
  });
});
