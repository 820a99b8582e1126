import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { InFlight } from './in-flight.js';

const message = (id: string, group?: string): Message => ({
  MessageId: id,
  ReceiptHandle: `rh-${id}`,
  Attributes: { ApproximateReceiveCount: '1', ...(group ? { MessageGroupId: group } : {}) },
});

describe('InFlight', () => {
  it('counts slots: a message takes one when it begins and frees it when it ends', () => {
    const ledger = new InFlight(2);
    const a = ledger.receive(message('a'), 0, 30, false);
    const b = ledger.receive(message('b'), 0, 30, false);
    const c = ledger.receive(message('c'), 0, 30, false);
    expect(ledger.size).toBe(3);
    ledger.begin(a);
    ledger.begin(b);
    expect(ledger.hasFreeSlot).toBe(false);
    ledger.wait(c);
    expect(ledger.nextWaiting()).toBeUndefined();
    ledger.end(a);
    expect(a.state).toBe('done');
    expect(ledger.nextWaiting()).toBe(c);
    expect([...ledger]).toEqual([b, c]);
  });

  it('skips waiting messages that were released meanwhile, and a release takes no slot', () => {
    const ledger = new InFlight(1);
    const a = ledger.receive(message('a'), 0, 30, false);
    const b = ledger.receive(message('b'), 0, 30, false);
    ledger.wait(a);
    ledger.wait(b);
    ledger.released(a);
    expect(ledger.size).toBe(1);
    expect(ledger.nextWaiting()).toBe(b);
    expect(ledger.hasFreeSlot).toBe(true);
  });

  it('keeps FIFO groups in order and says when a group needs a runner', () => {
    const ledger = new InFlight(4);
    const a = ledger.receive(message('a', 'g'), 0, 30, true);
    const b = ledger.receive(message('b', 'g'), 0, 30, true);
    expect(ledger.joinGroup(a, 'g')).toBe(true);
    expect(ledger.joinGroup(b, 'g')).toBe(false);
    expect(ledger.group('g')).toEqual([a, b]);
    ledger.endGroup('g');
    expect(ledger.group('g')).toEqual([]);
    expect(ledger.joinGroup(b, 'g')).toBe(true);
  });

  it('drains waiting messages outside groups for shutdown, and waits for all tracked work', async () => {
    const ledger = new InFlight(1);
    const a = ledger.receive(message('a'), 0, 30, false);
    const g = ledger.receive(message('g', 'g'), 0, 30, true);
    ledger.joinGroup(g, 'g');
    ledger.wait(a);
    expect(ledger.drainWaiting()).toEqual([a]);
    expect(ledger.waiting).toBe(0);
    let finished = false;
    let release: () => void = () => {};
    ledger.track(
      new Promise<void>((resolve) => {
        release = resolve;
      }).then(() => {
        finished = true;
      }),
    );
    const done = ledger.allDone();
    release();
    await done;
    expect(finished).toBe(true);
  });
});
