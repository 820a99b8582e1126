import { describe, expect, it } from 'vitest';
import { selectContenders } from '../src/lib.js';

const relay = [
  'tq http-relay',
  'tq http-relay, prefetch 10',
  'tq worker, same wait in-process',
  'hand-rolled relay (receive → POST → delete)',
  'undici POST loop',
];

describe('selectContenders (--only)', () => {
  it('takes plain names split on commas, in the scenario order, with the reference', () => {
    expect(
      selectContenders('hand-rolled relay (receive → POST → delete), tq http-relay', relay, 'undici POST loop'),
    ).toEqual(['tq http-relay', 'hand-rolled relay (receive → POST → delete)', 'undici POST loop']);
  });

  it('takes a name with commas in it whole, and not the shorter name it starts with', () => {
    expect(selectContenders('tq http-relay, prefetch 10', relay, 'undici POST loop')).toEqual([
      'tq http-relay, prefetch 10',
      'undici POST loop',
    ]);
    expect(
      selectContenders('tq worker,same wait in-process,tq http-relay,prefetch 10', relay, 'undici POST loop'),
    ).toEqual(['tq http-relay, prefetch 10', 'tq worker, same wait in-process', 'undici POST loop']);
  });

  it('ignores names the scenario does not have', () => {
    expect(selectContenders('sqs-consumer, tq http-relay', relay, 'undici POST loop')).toEqual([
      'tq http-relay',
      'undici POST loop',
    ]);
  });
});
