import type { Message } from '@aws-sdk/client-sqs';
import { classifyAwsError } from '@tq/aws';
import { backoffMs } from './backoff.js';
import type { TaskQueue } from './queue.js';
import { sleep } from './sleep.js';

/** How long `stop()` lets receives already answering deliver before aborting the rest. */
const RECEIVE_LANDING_MS = 300;

/** What the poller needs from the worker. */
export interface PollerHost {
  /** Messages held right now (each takes a slot until it is settled). */
  held(): number;
  /** Messages that may be held at once: the slots and the prefetch buffer. */
  capacity(): number;
  /** Messages received ahead and waiting for a slot (the prefetch buffer). */
  buffered(): number;
  /** Takes the messages of one receive. */
  accept(messages: Message[]): void;
  /** A receive failed; the next one waits `retryInMs`. */
  receiveFailed(error: unknown, consecutive: number, retryInMs: number): void;
  /** A receive succeeded after `failures` failed ones. */
  receiveRecovered(failures: number, outageMs: number): void;
  /** True while no new messages should be taken (the worker's `readiness` says not ready). */
  paused(): boolean;
}

/** How often a paused poller looks again. */
const PAUSED_RECHECK_MS = 500;

/** What the poller is set up with. */
export interface PollerSettings {
  batchSize: number;
  pollers: number;
  waitTimeSeconds: number;
  /** Pause after an empty receive before the next. */
  emptyReceiveDelayMs: number;
  visibilityTimeoutSeconds: number;
  receiveBackoff: { baseMs: number; capMs: number };
}

/**
 * Keeps receives going for the free slots (and the prefetch buffer behind them): up to `pollers`
 * receive calls in flight, each asking for what is free (a whole batch once one is out). Without
 * prefetch no message waits in the worker for a slot.
 * Failing receives back off exponentially with one probe at a time, until one succeeds.
 */
export class Poller {
  readonly #queue: TaskQueue;
  readonly #settings: PollerSettings;
  readonly #host: PollerHost;
  /** Aborts the long polls on stop (the receiving client listens on it). */
  readonly #abort: AbortController;
  readonly #polls = new Set<Promise<void>>();
  #open = false;
  #active = 0;
  #requested = 0;
  #failures = 0;
  #outageSince = 0;
  #blockedUntil = 0;
  #wakeTimer: NodeJS.Timeout | undefined;

  constructor(queue: TaskQueue, settings: PollerSettings, host: PollerHost, abort: AbortController) {
    this.#queue = queue;
    this.#settings = settings;
    this.#host = host;
    this.#abort = abort;
  }

  /** True while receives fail (what `/readyz` reports). */
  get failing(): boolean {
    return this.#failures > 0;
  }

  start(): void {
    this.#open = true;
    this.pump();
  }

  /** Starts receive calls for free slots. Called whenever a slot frees or a receive ends. */
  pump(): void {
    if (!this.#open) return;
    const now = Date.now();
    if (now < this.#blockedUntil) {
      this.#wakeTimer ??= setTimeout(() => {
        this.#wakeTimer = undefined;
        this.pump();
      }, this.#blockedUntil - now);
      return;
    }
    if (this.#host.paused()) {
      this.#wakeTimer ??= setTimeout(() => {
        this.#wakeTimer = undefined;
        this.pump();
      }, PAUSED_RECHECK_MS);
      return;
    }
    const { batchSize } = this.#settings;
    const capacity = this.#host.capacity();
    // During an outage one receive probes; the rest wait until it succeeds.
    const pollers = this.#failures > 0 ? 1 : this.#settings.pollers;
    while (this.#active < pollers) {
      const free = capacity - this.#host.held() - this.#requested;
      if (free <= 0) return;
      // With a receive already out, or prefetched messages to start meanwhile, wait until a
      // whole batch is free rather than asking for one message at a time; with neither, a slot
      // would sit idle: ask for whatever is free.
      if ((this.#active > 0 || this.#host.buffered() > 0) && free < batchSize) return;
      const poll = this.#poll(Math.min(batchSize, free));
      this.#polls.add(poll);
      void poll.finally(() => this.#polls.delete(poll));
    }
  }

  async #poll(count: number): Promise<void> {
    this.#active += 1;
    this.#requested += count;
    let empty = false;
    try {
      const { waitTimeSeconds, visibilityTimeoutSeconds } = this.#settings;
      const messages = await this.#queue.receive(count, waitTimeSeconds, visibilityTimeoutSeconds);
      this.#succeeded();
      empty = messages.length === 0;
      this.#requested -= count;
      count = 0;
      this.#host.accept(messages);
    } catch (error) {
      if (!(this.#abort.signal.aborted && classifyAwsError(error) === 'aborted')) {
        this.#failed(error);
      }
    } finally {
      this.#active -= 1;
      this.#requested -= count;
      if (empty && this.#settings.emptyReceiveDelayMs > 0) {
        this.#blockedUntil = Math.max(this.#blockedUntil, Date.now() + this.#settings.emptyReceiveDelayMs);
      }
      this.pump();
    }
  }

  #succeeded(): void {
    if (this.#failures === 0) return;
    this.#host.receiveRecovered(this.#failures, Date.now() - this.#outageSince);
    this.#failures = 0;
    this.#blockedUntil = 0;
  }

  #failed(error: unknown): void {
    this.#failures += 1;
    const { baseMs, capMs } = this.#settings.receiveBackoff;
    const retryInMs = backoffMs(this.#failures, baseMs, capMs);
    this.#blockedUntil = Date.now() + retryInMs;
    if (this.#failures === 1) this.#outageSince = Date.now();
    this.#host.receiveFailed(error, this.#failures, retryInMs);
  }

  /**
   * Stops receiving. A receive that is answering right now has already taken its messages off
   * the queue; aborting it would hide them until their visibility timeout. Such receives get a
   * moment to land (their messages are then handed back by the worker); the long polls still
   * waiting on an empty queue are aborted. Resolves with the time until which an aborted long
   * poll may live on at the endpoint and take a message there that nobody will read: releases
   * must wait until then.
   */
  async stop(): Promise<number> {
    this.#open = false;
    clearTimeout(this.#wakeTimer);
    let pollsOverAt = 0;
    if (this.#polls.size > 0) {
      const landed = new AbortController();
      await Promise.race([Promise.allSettled([...this.#polls]), sleep(RECEIVE_LANDING_MS, landed.signal)]);
      landed.abort();
      if (this.#polls.size > 0) pollsOverAt = Date.now() + this.#settings.waitTimeSeconds * 1000 + 250;
    }
    this.#abort.abort();
    // Aborted receives end at once; none may outlive the worker (or retry on a destroyed client).
    await Promise.allSettled([...this.#polls]);
    return pollsOverAt;
  }
}
