import { type Claim, createIdempotencyStore, type IdempotencyStore, payloadHash } from '@tq/status';
import type { Logger } from 'pino';
import type { WorkerMetrics } from './observability.js';

/** What the guard reads of a task's envelope. */
export interface GuardedEnvelope {
  readonly id: string;
  readonly task: string;
  readonly idempotencyKey?: string | undefined;
  readonly payload: unknown;
}

/** The `idempotency` option of `createWorker`, when not just `true`. */
export interface IdempotencyOptions {
  /** The records' store; default: built from the environment (`TQ_IDEMPOTENCY_TABLE` or `<prefix>-idempotency`). */
  store?: IdempotencyStore;
  /**
   * The key a task's effect is done once for, within its task type. Default: the envelope's
   * `idempotencyKey`, else its id (the same across redeliveries of one message).
   */
  key?: (envelope: GuardedEnvelope) => string;
  /**
   * How long a claim holds while its handler runs: renewed every third of it, so it runs out
   * only when its worker died or lost the store. Default: the visibility timeout, so a dead
   * worker's message and its lease come free together.
   */
  leaseSeconds?: number;
  /**
   * When the store cannot be reached to claim a key: `run` the handler unguarded (logged once per
   * outage and counted; the queue's at-least-once delivery is all that holds, as without the
   * guard), or `retry` the task later so no effect can happen twice. Default `run`: a store
   * outage never stops tasks.
   */
  whenUnavailable?: 'run' | 'retry';
}

/** What the guard says about a message before its handler runs. */
export type Gate =
  | { kind: 'run'; claim: Claim | undefined }
  | { kind: 'done'; result: unknown }
  | { kind: 'busy'; retryInSeconds: number }
  | { kind: 'reused'; message: string }
  | { kind: 'unavailable'; error: unknown };

/**
 * The worker's idempotency guard: claims each task's key before its handler runs, keeps the
 * claim's lease alive while it runs, records the result when it succeeded and gives the claim up
 * when it failed. A delivery of a task whose effect is done is answered from the record.
 */
export class IdempotencyGuard {
  readonly #store: IdempotencyStore;
  readonly #owned: boolean;
  readonly #task: string;
  readonly #key: (envelope: GuardedEnvelope) => string;
  readonly #leaseMs: number;
  readonly #whenUnavailable: 'run' | 'retry';
  readonly #logger: Logger;
  readonly #outcomes: WorkerMetrics['idempotency'];
  readonly #storeErrors: ReturnType<WorkerMetrics['idempotencyStoreErrors']['labels']>;
  readonly #active = new Set<Claim>();
  #timer: NodeJS.Timeout | undefined;
  /** Whether the store is failing (so an outage is logged once). */
  #down = false;

  constructor(options: {
    idempotency: true | IdempotencyOptions;
    task: string;
    prefix: string;
    visibilityTimeoutSeconds: number;
    logger: Logger;
    metrics: WorkerMetrics;
  }) {
    const settings = options.idempotency === true ? {} : options.idempotency;
    this.#owned = settings.store === undefined;
    this.#store = settings.store ?? createIdempotencyStore({ prefix: options.prefix });
    this.#task = options.task;
    this.#key = settings.key ?? ((envelope) => envelope.idempotencyKey ?? envelope.id);
    this.#leaseMs = (settings.leaseSeconds ?? options.visibilityTimeoutSeconds) * 1000;
    this.#whenUnavailable = settings.whenUnavailable ?? 'run';
    this.#logger = options.logger;
    this.#outcomes = options.metrics.idempotency;
    this.#storeErrors = options.metrics.idempotencyStoreErrors.labels({ task: options.task });
  }

  get whenUnavailable(): 'run' | 'retry' {
    return this.#whenUnavailable;
  }

  #count(outcome: string): void {
    this.#outcomes.labels({ task: this.#task, outcome }).inc();
  }

  #failed(error: unknown, doing: string): void {
    this.#storeErrors.inc();
    if (this.#down) return;
    this.#down = true;
    this.#logger.warn(
      { err: error, table: this.#store.tableName, whenUnavailable: this.#whenUnavailable },
      `idempotency store unreachable (${doing}): ${
        this.#whenUnavailable === 'run'
          ? 'tasks run unguarded until it recovers'
          : 'tasks are retried until it recovers'
      }`,
    );
  }

  #recovered(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#logger.info({ table: this.#store.tableName }, 'idempotency store reachable again');
  }

  /** Claims the task's key: whether to run the handler, and if not, why. */
  async enter(envelope: GuardedEnvelope): Promise<Gate> {
    const key = `${this.#task}#${this.#key(envelope)}`;
    let outcome: Awaited<ReturnType<IdempotencyStore['claim']>>;
    try {
      outcome = await this.#store.claim(key, payloadHash(envelope.payload), this.#leaseMs);
    } catch (error) {
      this.#failed(error, 'claim');
      if (this.#whenUnavailable === 'retry') {
        this.#count('unavailable');
        return { kind: 'unavailable', error };
      }
      this.#count('unguarded');
      return { kind: 'run', claim: undefined };
    }
    this.#recovered();
    switch (outcome.kind) {
      case 'claimed':
        this.#count('claimed');
        this.#active.add(outcome.claim);
        this.#arm();
        return { kind: 'run', claim: outcome.claim };
      case 'done':
        this.#count('duplicate');
        return { kind: 'done', result: outcome.result };
      case 'busy':
        this.#count('busy');
        return { kind: 'busy', retryInSeconds: Math.max(1, Math.ceil((outcome.leaseUntil - Date.now()) / 1000)) };
      case 'reused':
        this.#count('reused');
        return {
          kind: 'reused',
          message: `idempotency key "${this.#key(envelope)}" was already used for a different ${this.#task} payload${
            outcome.completedAt ? ` (completed ${outcome.completedAt})` : ''
          }`,
        };
    }
  }

  /** The handler succeeded: records its result, so later deliveries are answered from it. */
  async succeeded(claim: Claim | undefined, result: unknown, logger: Logger): Promise<void> {
    if (claim === undefined) return;
    this.#active.delete(claim);
    try {
      if (!(await this.#store.complete(claim, result))) {
        logger.warn(
          { key: claim.key },
          'idempotency lease was taken over while the handler ran: the effect may have run twice',
        );
      }
      this.#recovered();
    } catch (error) {
      this.#failed(error, 'complete');
      logger.warn(
        { err: error, key: claim.key },
        'could not record the completed effect: a redelivery would run it again',
      );
    }
  }

  /** The handler failed (and will be retried or dead-lettered): gives the claim up at once. */
  async failed(claim: Claim | undefined): Promise<void> {
    if (claim === undefined) return;
    this.#active.delete(claim);
    try {
      await this.#store.release(claim);
      this.#recovered();
    } catch (error) {
      // The lease runs out by itself: the retry waits for it at worst.
      this.#failed(error, 'release');
    }
  }

  /** The handler ignores its abort and may still run: its lease is left to run out, not renewed. */
  abandoned(claim: Claim | undefined): void {
    if (claim !== undefined) this.#active.delete(claim);
  }

  /** One timer renews every held lease, every third of the lease. */
  #arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#renewAll().finally(() => {
        if (this.#active.size > 0) this.#arm();
      });
    }, this.#leaseMs / 3);
    this.#timer.unref();
  }

  async #renewAll(): Promise<void> {
    await Promise.all(
      [...this.#active].map(async (claim) => {
        try {
          if (!(await this.#store.renew(claim, this.#leaseMs)) && this.#active.delete(claim)) {
            this.#logger.warn({ key: claim.key }, 'idempotency lease lost while the handler runs');
          }
          this.#recovered();
        } catch (error) {
          this.#failed(error, 'renew');
        }
      }),
    );
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#owned) this.#store.close();
  }
}
