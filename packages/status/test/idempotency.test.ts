import { type LocalEndpoint, startLocalEndpoint } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdempotencyStore, ensureIdempotencyTable, type IdempotencyStore, payloadHash } from '../src/index.js';

describe('idempotency store against the local endpoint (dynalite)', () => {
  let endpoint: LocalEndpoint;
  let store: IdempotencyStore;

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    store = createIdempotencyStore({ endpoint: endpoint.endpoint, tableName: 'idempotency-test' });
    await ensureIdempotencyTable(store.dynamodb, store.tableName);
  });
  afterAll(async () => {
    store.close();
    await endpoint.stop();
  });

  it('hashes payloads canonically: key order does not matter, values do', () => {
    expect(payloadHash({ a: 1, b: { c: [1, 2], d: 'x' } })).toBe(payloadHash({ b: { d: 'x', c: [1, 2] }, a: 1 }));
    expect(payloadHash({ a: 1 })).not.toBe(payloadHash({ a: 2 }));
    expect(payloadHash({ a: [1, 2] })).not.toBe(payloadHash({ a: [2, 1] }));
  });

  it('one claim wins among concurrent ones; the others are told it is busy until its lease ends', async () => {
    const hash = payloadHash({ n: 1 });
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => store.claim('race', hash, 60_000)));
    expect(outcomes.filter((outcome) => outcome.kind === 'claimed')).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.kind !== 'claimed')) {
      expect(outcome.kind).toBe('busy');
      if (outcome.kind === 'busy') expect(outcome.leaseUntil).toBeGreaterThan(Date.now());
    }
  });

  it('fences a holder whose lease ran out and was taken over: it can neither renew, complete nor release', async () => {
    const hash = payloadHash({ n: 2 });
    const old = await store.claim('fenced', hash, 1);
    expect(old.kind).toBe('claimed');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const next = await store.claim('fenced', hash, 60_000);
    expect(next).toMatchObject({ kind: 'claimed' });
    if (old.kind !== 'claimed' || next.kind !== 'claimed') throw new Error('unreachable');
    expect(await store.renew(old.claim, 60_000)).toBe(false);
    expect(await store.complete(old.claim, { by: 'old' })).toBe(false);
    expect(await store.release(old.claim)).toBe(false);
    expect(await store.renew(next.claim, 60_000)).toBe(true);
    expect(await store.complete(next.claim, { by: 'next' })).toBe(true);
    expect(await store.claim('fenced', hash, 60_000)).toMatchObject({ kind: 'done', result: { by: 'next' } });
    // Once done, a lease that would have run out changes nothing.
    expect(await store.get('fenced')).toMatchObject({ state: 'done', result: { by: 'next' } });
    expect((await store.get('fenced'))?.leaseUntil).toBeUndefined();
  });

  it('a released claim can be claimed again at once; a reused key with another payload is reported', async () => {
    const first = await store.claim('released', payloadHash('a'), 60_000);
    if (first.kind !== 'claimed') throw new Error(`expected a claim, got ${first.kind}`);
    expect(await store.release(first.claim)).toBe(true);
    const again = await store.claim('released', payloadHash('a'), 60_000);
    expect(again.kind).toBe('claimed');
    if (again.kind === 'claimed') await store.complete(again.claim, undefined);
    expect(await store.claim('released', payloadHash('a'), 60_000)).toMatchObject({ kind: 'done', result: undefined });
    expect(await store.claim('released', payloadHash('b'), 60_000)).toMatchObject({ kind: 'reused' });
  });

  it('stores a result over 4 KiB as { truncated: true }', async () => {
    const claimed = await store.claim('big', payloadHash(1), 60_000);
    if (claimed.kind !== 'claimed') throw new Error('expected a claim');
    await store.complete(claimed.claim, { blob: 'x'.repeat(10_000) });
    expect(await store.claim('big', payloadHash(1), 60_000)).toMatchObject({
      kind: 'done',
      result: { truncated: true },
    });
  });
});
