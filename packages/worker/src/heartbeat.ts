import type { Logger } from 'pino';
import type { Held } from './held.js';
import type { HeldMessages } from './in-flight.js';
import type { TaskQueue } from './queue.js';

/**
 * Keeps held messages invisible while they wait or are handled: one timer for all of them, which
 * extends each message whose visibility ends before the next tick or two, in the queue's
 * batched visibility changes.
 */
export class Heartbeat {
  readonly #queue: TaskQueue;
  readonly #held: HeldMessages;
  readonly #visibilitySeconds: number;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(queue: TaskQueue, held: HeldMessages, visibilitySeconds: number, intervalMs: number, logger: Logger) {
    this.#queue = queue;
    this.#held = held;
    this.#visibilitySeconds = visibilitySeconds;
    this.#intervalMs = intervalMs;
    this.#logger = logger;
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const horizon = Date.now() + 2 * this.#intervalMs;
    for (const held of this.#held) {
      if ((held.state !== 'handling' && held.state !== 'waiting') || held.heartbeat || held.visibleUntil > horizon) {
        continue;
      }
      const sentAt = Date.now();
      held.heartbeat = this.#queue
        .changeVisibility(held.receiptHandle, this.#visibilitySeconds)
        .then(
          () => {
            held.visibleUntil = sentAt + this.#visibilitySeconds * 1000;
          },
          (error: unknown) => {
            this.#logger.warn(
              { err: error, messageId: held.messageId },
              'heartbeat failed: the message may be delivered again while it runs',
            );
          },
        )
        .finally(() => {
          held.heartbeat = undefined;
        });
    }
  }
}

/**
 * Takes a message out of the heartbeat (its outcome is being settled). Returns a promise only
 * when a heartbeat call is in flight, which a delete or visibility change must wait for, so the
 * two never race (the common case needs no await).
 */
export function leaveHeartbeat(held: Held): Promise<void> | undefined {
  held.state = 'settling';
  return held.heartbeat === undefined ? undefined : heartbeatLanded(held);
}

async function heartbeatLanded(held: Held): Promise<void> {
  while (held.heartbeat !== undefined) await held.heartbeat;
}
