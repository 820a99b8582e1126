import type { FlowRef, TaskEnvelope, TaskName } from '@tq/contracts';
import { isFlowBusyError, isFlowValidationError, isProducerError } from '@tq/producer-sdk';
import type { CancelWatch } from './cancel.js';
import { type DecodeOptions, decodeMessage } from './decode.js';
import { NonRetryableError } from './errors.js';
import type { HandlerRunner, MessageLog } from './execution.js';
import type { WorkerFlows } from './flows.js';
import type { Gate, IdempotencyGuard } from './guard.js';
import type { Held } from './held.js';
import type { TaskMetrics } from './observability.js';
import { type AttemptOutcome, outcomeOfError } from './policy.js';
import type { Settled, Settlement } from './settlement.js';
import type { StatusRecorder } from './status.js';
import type { FlowContext } from './types.js';

/**
 * A flow's records could not be read or carried on: try again, after the lease of another
 * delivery that is carrying the flow on (`FlowBusyError`), else with the usual backoff.
 */
function flowFailure(ref: FlowRef, error: unknown) {
  const message = `flow ${ref.id} at ${ref.path}: ${(error as Error).message}`;
  return isFlowBusyError(error)
    ? ({ kind: 'failed', message, delaySeconds: error.retryInSeconds } as const)
    : ({ kind: 'failed', message } as const);
}

/** An invalid `context.flow.add` does not pass on a retry: it dead-letters the task (its code says why). */
function permanent(error: unknown): never {
  if (isFlowValidationError(error)) throw new NonRetryableError(error.message, { code: error.code, cause: error });
  if (isProducerError(error) && error.code === 'INVALID_OPTIONS') {
    throw new NonRetryableError(error.message, { code: 'INVALID_FLOW', cause: error });
  }
  throw error;
}

/** What settling a task needs of its envelope. */
type TaskMeta = { id: string; task: string; flow?: FlowRef | undefined };

/** What one attempt needs: the worker's parts it passes through, made once. */
export interface AttemptOptions<TTask extends TaskName> {
  task: TTask;
  /** The task versions this worker handles. */
  versions: ReadonlySet<number>;
  decode: DecodeOptions;
  /** Aborted when shutdown's grace is over. */
  shutdown: AbortSignal;
  handlers: HandlerRunner<TTask>;
  settlement: Settlement;
  metrics: TaskMetrics;
  guard: IdempotencyGuard | undefined;
  status: StatusRecorder | undefined;
  /** Carries flows on from their tasks' ends. */
  flows: WorkerFlows;
  /** What was cancelled (with status on). */
  cancels: CancelWatch | undefined;
  /**
   * Leaves a message whose aborted handler is still running to its visibility timeout; the
   * worker keeps its slot until `ended` resolves.
   */
  abandon(held: Held, ended: Promise<boolean>, log: MessageLog): Settled;
}

/**
 * One delivery of one message, from its body to its settlement: decode and check it, pass the
 * idempotency guard, call the handler, and hand the outcome to settlement. The worker decides
 * when a message runs (slots, FIFO groups); this decides what becomes of it.
 */
export class Attempts<TTask extends TaskName> {
  readonly #options: AttemptOptions<TTask>;

  constructor(options: AttemptOptions<TTask>) {
    this.#options = options;
  }

  /** Decodes and checks the message, then hands it to the handler or settles it as poison. */
  async run(held: Held, log: MessageLog): Promise<Settled> {
    const { task, versions, settlement } = this.#options;
    let decoded = decodeMessage(held.message, this.#options.decode);
    if (decoded instanceof Promise) decoded = await decoded;
    if (!decoded.ok) {
      const failure: AttemptOutcome = this.#options.shutdown.aborted
        ? { kind: 'shutdown' }
        : decoded.retryable
          ? { kind: 'failed', message: decoded.message }
          : { kind: 'poison', code: decoded.code, message: decoded.message };
      return await settlement.failed(held, undefined, failure, log.get(), decoded.cause);
    }
    const envelope = decoded.envelope;
    if (envelope.task !== task) {
      const message = `a ${envelope.task} task arrived on the ${task} queue: check the subscription filter policy`;
      return await this.#poison(held, envelope, 'WRONG_TASK', message, log);
    }
    if (!versions.has(envelope.version)) {
      const message = `this worker handles ${task} versions ${[...versions].join(', ')}, not ${envelope.version}`;
      return await this.#poison(held, envelope, 'UNSUPPORTED_VERSION', message, log);
    }
    return await this.#handle(held, envelope as TaskEnvelope<TTask>, decoded.form, log);
  }

  #poison(held: Held, envelope: TaskMeta, code: string, message: string, log: MessageLog): Promise<Settled> {
    return this.#failed(held, envelope, { kind: 'poison', code, message }, log.get());
  }

  /** Settles a failed attempt; a flow's task that is dead-lettered has its failure recorded in its flow. */
  #failed(
    held: Held,
    envelope: TaskMeta,
    outcome: Parameters<Settlement['failed']>[2],
    logger: ReturnType<MessageLog['get']>,
    error?: unknown,
  ): Promise<Settled> {
    const ref = envelope.flow;
    const recordInFlow =
      ref === undefined
        ? undefined
        : (code: string, message: string) =>
            this.#options.flows.engine().ended(ref, envelope, { ok: false, code, message });
    return this.#options.settlement.failed(held, envelope.id, outcome, logger, error, recordInFlow);
  }

  /**
   * Before a flow's task runs: a redelivery of a task whose success the flow recorded carries the
   * flow on without running the handler again (`settled`); otherwise the task's input is read.
   */
  async #enterFlow(
    held: Held,
    envelope: TaskEnvelope<TTask>,
    ref: FlowRef,
    log: MessageLog,
  ): Promise<{ settled: Settled } | { context: FlowContext }> {
    const engine = this.#options.flows.engine();
    try {
      if (held.attempt > 1) {
        const recorded = await engine.recorded(ref);
        if (recorded?.ok) {
          await engine.ended(ref, envelope, { ok: true, result: recorded.result });
          const waiting = this.#options.settlement.succeeded(held, envelope.id, recorded.result, 0, log, true);
          if (waiting !== undefined) await waiting;
          return { settled: 'succeeded' };
        }
      }
      const input = await engine.input(ref);
      const add: FlowContext['add'] = (tasks) => engine.add(ref, tasks).catch(permanent);
      return { context: { id: ref.id, path: ref.path, input, add } };
    } catch (error) {
      const failure = {
        kind: 'failed',
        message: `flow ${ref.id} could not be read: ${(error as Error).message}`,
      } as const;
      return { settled: await this.#failed(held, envelope, failure, log.get(), error) };
    }
  }

  /** After a flow's task succeeded: records it in the flow and starts what follows; false when that failed. */
  async #carryOn(held: Held, envelope: TaskMeta, ref: FlowRef, result: unknown, log: MessageLog) {
    try {
      await this.#options.flows.engine().ended(ref, envelope, { ok: true, result });
      return undefined;
    } catch (error) {
      return await this.#failed(held, envelope, flowFailure(ref, error), log.get(), error);
    }
  }

  /** Calls the handler and settles the message by how the call ended. */
  async #handle(held: Held, envelope: TaskEnvelope<TTask>, form: string, log: MessageLog): Promise<Settled> {
    const { guard, settlement, metrics, cancels } = this.#options;
    if (cancels?.cancelled(envelope)) return await settlement.cancelled(held, envelope.id, log.get(), false);
    let gate: Gate | undefined;
    if (guard !== undefined) {
      gate = await guard.enter(envelope);
      if (gate.kind !== 'run') return await this.#gated(held, envelope, gate, log);
    }
    const claim = gate?.kind === 'run' ? gate.claim : undefined;
    const ref = envelope.flow;
    let flow: FlowContext | undefined;
    if (ref !== undefined) {
      const entered = await this.#enterFlow(held, envelope, ref, log);
      if ('settled' in entered) return entered.settled;
      flow = entered.context;
    }
    this.#options.status?.running(envelope.id, held.attempt, held.receivedAt, envelope.payload);
    const outcome = await this.#options.handlers.run(held, envelope, form, log, flow);
    if (outcome.kind === 'succeeded') {
      // The effect is recorded before the message is deleted: a crash between the two leaves a
      // redelivery that the record answers.
      if (claim !== undefined) await guard?.succeeded(claim, outcome.result, log.get());
      if (ref !== undefined) {
        const failed = await this.#carryOn(held, envelope, ref, outcome.result, log);
        if (failed !== undefined) return failed;
      }
      const waiting = settlement.succeeded(held, envelope.id, outcome.result, outcome.durationMs, log);
      if (waiting !== undefined) await waiting;
      return 'succeeded';
    }
    if (outcome.kind === 'ignoring-abort') {
      guard?.abandoned(claim);
      return this.#options.abandon(held, outcome.ended, log);
    }
    await guard?.failed(claim);
    log.bind({ id: envelope.id });
    const logger = log.get();
    const seconds = outcome.durationMs / 1000;
    if (outcome.abortedBy === 'cancel') {
      metrics.ended('aborted', seconds);
      return await settlement.cancelled(held, envelope.id, logger, true);
    }
    if (outcome.abortedBy === 'shutdown') {
      metrics.ended('aborted', seconds);
      logger.warn('aborted by shutdown; returning the message to the queue');
      return await settlement.failed(held, envelope.id, { kind: 'shutdown' }, logger);
    }
    const failure = outcomeOfError(outcome.error);
    metrics.ended(failure.kind === 'poison' ? 'dead-lettered' : 'failed', seconds);
    return await this.#failed(held, envelope, failure, logger, outcome.error);
  }

  /** Settles a message the idempotency guard did not let run. */
  async #gated(
    held: Held,
    envelope: TaskEnvelope<TTask>,
    gate: Exclude<Gate, { kind: 'run' }>,
    log: MessageLog,
  ): Promise<Settled> {
    const { settlement } = this.#options;
    log.bind({ id: envelope.id });
    switch (gate.kind) {
      case 'done': {
        // A crash after the guard recorded the effect but before the flow was carried on.
        if (envelope.flow !== undefined) {
          const failed = await this.#carryOn(held, envelope, envelope.flow, gate.result, log);
          if (failed !== undefined) return failed;
        }
        const waiting = settlement.succeeded(held, envelope.id, gate.result, 0, log, true);
        if (waiting !== undefined) await waiting;
        return 'succeeded';
      }
      case 'busy': {
        const message = 'another worker holds the idempotency lease';
        const failure = { kind: 'failed', message, delaySeconds: gate.retryInSeconds } as const;
        return await this.#failed(held, envelope, failure, log.get());
      }
      case 'reused':
        return await this.#poison(held, envelope, 'IDEMPOTENCY_KEY_REUSED', gate.message, log);
      case 'unavailable': {
        const failure = { kind: 'failed', message: 'idempotency store unreachable' } as const;
        return await this.#failed(held, envelope, failure, log.get(), gate.error);
      }
    }
  }
}
