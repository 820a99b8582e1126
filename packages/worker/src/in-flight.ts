import type { Message } from '@aws-sdk/client-sqs';
import { type Held, hold } from './held.js';

/** What the heartbeat reads of the ledger: every message held right now. */
export type HeldMessages = Iterable<Held>;

/** What settlement changes in the ledger: a message handed back before it was started. */
export interface ReleasedMessages {
  /** Takes a released message off the ledger (it never took a slot). */
  released(held: Held): void;
}

/**
 * The worker's in-flight ledger: every message held from receipt to settlement, the slots taken
 * (`concurrency` of them), the prefetched messages waiting for a slot, the FIFO groups being
 * worked through, and the work shutdown waits for. The heartbeat reads it (`HeldMessages`) and
 * settlement takes released messages off it (`ReleasedMessages`); only the worker starts and ends
 * messages, so the counts cannot drift apart.
 */
export class InFlight implements HeldMessages, ReleasedMessages {
  readonly #concurrency: number;
  readonly #held = new Set<Held>();
  /** Messages received ahead of a slot (`prefetch`), oldest first; started as slots free. */
  readonly #waiting: Held[] = [];
  readonly #groups = new Map<string, Held[]>();
  /** Work in progress (a message outside a FIFO group, a group, a release). */
  readonly #work = new Set<Promise<unknown>>();
  /** Messages being handled or settled, and abandoned ones whose handler still runs. */
  #running = 0;

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
  }

  [Symbol.iterator](): Iterator<Held> {
    return this.#held[Symbol.iterator]();
  }

  /** Messages held right now. */
  get size(): number {
    return this.#held.size;
  }

  /** Prefetched messages waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Records a received message as held (`waiting`). */
  receive(message: Message, now: number, visibilitySeconds: number, fifo: boolean): Held {
    const held = hold(message, now, visibilitySeconds, fifo);
    this.#held.add(held);
    return held;
  }

  /** Whether a slot is free for one more message. */
  get hasFreeSlot(): boolean {
    return this.#running < this.#concurrency;
  }

  /** Puts a message outside a FIFO group behind the others waiting for a slot. */
  wait(held: Held): void {
    this.#waiting.push(held);
  }

  /** The oldest message still waiting for a slot, if one is free. */
  nextWaiting(): Held | undefined {
    while (this.#waiting.length > 0 && this.hasFreeSlot) {
      const next = this.#waiting.shift() as Held;
      if (next.state === 'waiting') return next;
    }
    return undefined;
  }

  /** Empties the prefetch buffer (shutdown hands those messages back) and returns what waited outside groups. */
  drainWaiting(): Held[] {
    this.#waiting.length = 0;
    return [...this.#held].filter((held) => held.state === 'waiting' && held.groupId === undefined);
  }

  /** Adds a message to its FIFO group; true when the group is new and needs a runner. */
  joinGroup(held: Held, groupId: string): boolean {
    const group = this.#groups.get(groupId);
    if (group) {
      group.push(held);
      return false;
    }
    this.#groups.set(groupId, [held]);
    return true;
  }

  /** A FIFO group's messages in order, the one being handled first. */
  group(groupId: string): Held[] {
    return this.#groups.get(groupId) ?? [];
  }

  /** Ends a FIFO group's runner. */
  endGroup(groupId: string): void {
    this.#groups.delete(groupId);
  }

  /** A message takes a slot: it is being handled. */
  begin(held: Held): void {
    held.state = 'handling';
    this.#running += 1;
  }

  /** A message frees its slot: settled, or its abandoned handler really ended. */
  end(held: Held): void {
    held.state = 'done';
    this.#held.delete(held);
    this.#running -= 1;
  }

  released(held: Held): void {
    held.state = 'done';
    this.#held.delete(held);
  }

  /** Work shutdown waits for, taken off when it ends. */
  track(work: Promise<unknown>): void {
    this.#work.add(work);
    void work.finally(() => this.#work.delete(work));
  }

  /** Work of one message outside a group, which takes itself off when it ends (`untrack`). */
  trackMessage(held: Held, work: Promise<unknown>): void {
    held.work = work;
    this.#work.add(work);
  }

  untrack(held: Held): void {
    if (held.work !== undefined) this.#work.delete(held.work);
  }

  /** Resolves once no work is left, including work that started while waiting. */
  async allDone(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }
}
