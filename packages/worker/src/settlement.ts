import type { Logger } from 'pino';
import { type RetryOptions, retryDelaySeconds } from './backoff.js';
import type { MessageLog } from './execution.js';
import { leaveHeartbeat } from './heartbeat.js';
import type { Held } from './held.js';
import type { ReleasedMessages } from './in-flight.js';
import type { TaskMetrics } from './observability.js';
import { type AttemptOutcome, decide } from './policy.js';
import type { TaskQueue } from './queue.js';
import { sleep } from './sleep.js';
import type { FinalSteps } from './status.js';
import type { WorkerEvents } from './types.js';

/**
 * What became of a message: `abandoned` when its handler was aborted but went on running past
 * `abortWaitMs`: the message is then left alone to come back after its visibility timeout.
 */
export type Settled = 'succeeded' | 'retried' | 'dead-lettered' | 'released' | 'abandoned' | 'cancelled';

/** The worker's events, as settlement emits them. */
export interface EventSink {
  emit<E extends keyof WorkerEvents>(event: E, ...args: WorkerEvents[E]): boolean;
  listenerCount(event: keyof WorkerEvents): number;
}

/**
 * Carries out what becomes of each message against SQS: delete it after success, make it visible
 * again after a delay, dead-letter it with its reason, or hand it back now. What to do is the
 * failure policy's decision (`decide`); this module only does it, with the events, logs and
 * metrics that go with each.
 */
export class Settlement {
  readonly #queue: TaskQueue;
  readonly #ledger: ReleasedMessages;
  readonly #metrics: TaskMetrics;
  readonly #events: EventSink;
  readonly #logger: Logger;
  readonly #retry: RetryOptions | undefined;
  readonly #finalSteps: FinalSteps | undefined;
  /** Until when an aborted long poll may still take a message at the endpoint (see `Poller.stop`). */
  pollsOverAt = 0;

  constructor(options: {
    queue: TaskQueue;
    /** The worker's in-flight ledger, which a released message leaves. */
    ledger: ReleasedMessages;
    metrics: TaskMetrics;
    events: EventSink;
    logger: Logger;
    retry: RetryOptions | undefined;
    /** With status on: final steps are made durable before their message is deleted. */
    finalSteps?: FinalSteps | undefined;
  }) {
    this.#queue = options.queue;
    this.#ledger = options.ledger;
    this.#metrics = options.metrics;
    this.#events = options.events;
    this.#logger = options.logger;
    this.#retry = options.retry;
    this.#finalSteps = options.finalSteps;
  }

  /**
   * Deletes a message whose handler succeeded (in the next batch: no promise per delete), after
   * its `succeeded` step is durable when status is on. Returns a promise only when a heartbeat
   * call must land first.
   */
  succeeded(
    held: Held,
    id: string,
    result: unknown,
    durationMs: number,
    log: MessageLog,
    duplicate = false,
  ): Promise<void> | undefined {
    if (!duplicate) this.#metrics.succeeded(durationMs / 1000);
    const heartbeat = leaveHeartbeat(held);
    if (heartbeat !== undefined)
      return heartbeat.then(() => this.#delete(held, id, result, durationMs, log, duplicate));
    this.#delete(held, id, result, durationMs, log, duplicate);
    return undefined;
  }

  /** Hears how a delete after success went: one function for every message, no closure each. */
  readonly #deleted = (error: unknown, held: Held): void => {
    if (error === undefined) return;
    this.#logger.warn(
      { err: error, messageId: held.messageId, attempt: held.attempt },
      'delete failed after success: the task may run again (handlers are idempotent)',
    );
  };

  /** Deletes a message once its final step was written (or given up on: the work is done either way). */
  readonly #stepWritten = (_written: boolean, held: Held): void => {
    this.#queue.delete(held, this.#deleted);
  };

  #delete(held: Held, id: string, result: unknown, durationMs: number, log: MessageLog, duplicate: boolean): void {
    if (this.#finalSteps === undefined) this.#queue.delete(held, this.#deleted);
    else this.#finalSteps.succeeded({ id, attempt: held.attempt, durationMs, result }, this.#stepWritten, held);
    if (duplicate) {
      log.get().info({ result }, 'task already done (idempotency record): acknowledged without running the handler');
    } else if (this.#logger.isLevelEnabled('info')) {
      log.get().info({ durationMs: Math.round(durationMs), result }, 'task succeeded');
    }
    if (this.#events.listenerCount('succeeded') > 0) {
      const data = { id, messageId: held.messageId, attempt: held.attempt, durationMs, result };
      this.#events.emit('succeeded', duplicate ? { ...data, duplicate } : data);
    }
  }

  /**
   * Settles a message that did not succeed, by the failure policy's decision for `outcome`.
   * `deadLettered` hears a dead letter's code and reason once the DLQ holds it, before the
   * original is deleted (a flow records the failure there).
   */
  async failed(
    held: Held,
    id: string | undefined,
    outcome: Exclude<AttemptOutcome, { kind: 'succeeded' }>,
    log: Logger,
    error?: unknown,
    deadLettered?: (code: string, reason: string) => Promise<void>,
  ): Promise<Settled> {
    const decision = decide(outcome, {
      attempt: held.attempt,
      maxReceiveCount: this.#queue.maxReceiveCount,
      retry: this.#retry,
    });
    switch (decision.action) {
      case 'retry':
        await this.#retryLater(held, id, decision.delaySeconds, error, log);
        return 'retried';
      case 'dead-letter':
        return await this.#deadLetter(
          held,
          id,
          { code: decision.code, reason: decision.reason },
          log,
          error,
          deadLettered,
        );
      case 'release':
        await this.release([held]);
        return 'released';
      case 'ack':
        throw new Error(`the failure policy acknowledged a ${outcome.kind} outcome`);
    }
  }

  async #retryLater(
    held: Held,
    id: string | undefined,
    delaySeconds: number,
    error: unknown,
    log: Logger,
  ): Promise<void> {
    await leaveHeartbeat(held);
    await this.#queue.changeVisibility(held.receiptHandle, delaySeconds);
    this.#metrics.retried();
    log.warn({ err: error, delaySeconds }, 'task failed; retrying');
    this.#events.emit('retrying', { id, messageId: held.messageId, attempt: held.attempt, delaySeconds, error });
  }

  async #deadLetter(
    held: Held,
    id: string | undefined,
    { code, reason }: { code: string; reason: string },
    log: Logger,
    error: unknown,
    deadLettered: ((code: string, reason: string) => Promise<void>) | undefined,
  ): Promise<Settled> {
    await leaveHeartbeat(held);
    const firstReceived = Number(held.message.Attributes?.ApproximateFirstReceiveTimestamp);
    const firstFailureAt =
      held.attempt > 1 && Number.isFinite(firstReceived) ? new Date(firstReceived) : new Date(Date.now());
    try {
      await this.#queue.deadLetter(held.message, { code, reason, attempt: held.attempt, firstFailureAt }, held.groupId);
    } catch (sendError) {
      log.error(
        { err: sendError, code, reason },
        'could not send to the dead-letter queue; keeping the message for a retry',
      );
      await this.#queue.changeVisibility(held.receiptHandle, retryDelaySeconds(held.attempt, this.#retry));
      return 'retried';
    }
    // Only now that the DLQ holds a copy, and the status its final step, may the original go.
    if (id !== undefined && this.#finalSteps !== undefined)
      await this.#finalSteps.deadLettered(id, held.attempt, code, reason);
    await deadLettered?.(code, reason).catch((hookError: unknown) => {
      log.error(
        { err: hookError, code },
        'could not record the dead letter in its flow: redrive it to carry the flow on',
      );
    });
    this.#queue.deleteNow(held).catch((deleteError: unknown) => {
      log.warn({ err: deleteError }, 'delete after dead-lettering failed: the message may be dead-lettered twice');
    });
    this.#metrics.deadLettered(code);
    log.error({ code, reason, ...(error === undefined ? {} : { err: error }) }, 'task dead-lettered');
    this.#events.emit('dead-lettered', {
      id,
      messageId: held.messageId,
      attempt: held.attempt,
      code,
      reason,
      ...(error === undefined ? {} : { error }),
    });
    return 'dead-lettered';
  }

  /**
   * Settles a message of a cancelled task (or flow): its `cancelled` step is made durable, then the
   * message is deleted: neither retried nor dead-lettered.
   */
  async cancelled(held: Held, id: string, log: Logger, ran: boolean): Promise<Settled> {
    await leaveHeartbeat(held);
    await this.#finalSteps?.cancelled(id, held.attempt);
    this.#queue.delete(held, this.#deleted);
    log.info({ ran }, ran ? 'task cancelled while it ran: handler aborted' : 'task cancelled: not run');
    this.#events.emit('cancelled', { id, messageId: held.messageId, attempt: held.attempt, ran });
    return 'cancelled';
  }

  /** Hands messages back untouched (visibility 0), last first so a FIFO group keeps its order. */
  async release(messages: Held[]): Promise<void> {
    const pollsLeft = this.pollsOverAt - Date.now();
    if (pollsLeft > 0) await sleep(pollsLeft);
    const changes = [...messages].reverse().map(async (held) => {
      await leaveHeartbeat(held);
      this.#ledger.released(held);
      try {
        await this.#queue.changeVisibility(held.receiptHandle, 0);
        this.#events.emit('released', { messageId: held.messageId, reason: 'shutdown' });
      } catch (error) {
        this.#logger.warn(
          { err: error, messageId: held.messageId },
          'could not release message; it returns after its visibility timeout',
        );
      }
    });
    await Promise.all(changes);
  }
}
