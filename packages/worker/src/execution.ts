import type { TaskEnvelope, TaskName } from '@tq/contracts';
import type { Logger } from 'pino';
import { isTaskCancelledError, TaskCancelledError, WorkerError } from './errors.js';
import type { Held } from './held.js';
import { sleep } from './sleep.js';
import { type SpanBody, withMessageSpan } from './trace.js';
import type { FlowContext, HandlerContext, TaskHandler } from './types.js';

const noop = () => undefined;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/** What every call of one runner shares: set once, read by each call (no closure per message). */
interface RunnerShared<TTask extends TaskName> {
  readonly task: TTask;
  readonly handler: TaskHandler<TTask>;
  readonly spanName: string;
  readonly queueUrl: () => string;
  readonly logger: Logger;
  /** Where `context.progress` reports go (the status recorder), if anywhere. */
  readonly progress: ((id: string, fraction: number, note: string | undefined) => void) | undefined;
}

/**
 * One call of a handler for one message: what its timeout and shutdown need to abort it, and the
 * body of its trace span. Its AbortSignal is made only when the handler reads `context.signal`
 * (making one costs more than a no-op task), already aborted if the call was.
 */
class HandlerCall<TTask extends TaskName> implements SpanBody<unknown> {
  /** When the handler timeout aborts it (ms since the epoch); Infinity without a timeout. */
  readonly deadline: number;
  aborted = false;
  reason: unknown;
  readonly #shared: RunnerShared<TTask>;
  readonly #held: Held;
  readonly #envelope: TaskEnvelope<TTask>;
  readonly #form: string;
  readonly #log: MessageLog;
  readonly #flow: FlowContext | undefined;
  #controller: AbortController | undefined;
  /** Rejects the call's promise at once with the abort reason (the handler may still be winding down). */
  #reject: (reason: unknown) => void = noop;
  /** The handler's own promise, when it returned one: what "the handler has really ended" waits for. */
  #pending: PromiseLike<unknown> | undefined;

  constructor(
    shared: RunnerShared<TTask>,
    deadline: number,
    held: Held,
    envelope: TaskEnvelope<TTask>,
    form: string,
    log: MessageLog,
    flow: FlowContext | undefined,
  ) {
    this.#shared = shared;
    this.#flow = flow;
    this.deadline = deadline;
    this.#held = held;
    this.#envelope = envelope;
    this.#form = form;
    this.#log = log;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  /** The id in `ids` that cancels this call: its task's, or its flow's. */
  cancelledBy(ids: ReadonlySet<string>): string | undefined {
    const { id, flow } = this.#envelope;
    if (ids.has(id)) return id;
    return flow !== undefined && ids.has(flow.id) ? flow.id : undefined;
  }

  spanAttributes(): Record<string, string | number> {
    return {
      'messaging.system': 'aws_sqs',
      'messaging.operation.type': 'process',
      'messaging.destination.name': this.#shared.queueUrl(),
      'messaging.message.id': this.#held.messageId,
      'tq.task': this.#shared.task,
      'tq.task.id': this.#envelope.id,
      'tq.attempt': this.#held.attempt,
    };
  }

  /**
   * Calls the handler inside the span; the promise settles with its result, or at once with the
   * reason of an abort (which does not wait for a handler ignoring its signal).
   */
  runInSpan(traceparent: string | undefined, traceId: string | undefined): Promise<unknown> {
    const envelope = this.#envelope;
    this.#log.bind(traceId ? { id: envelope.id, traceId } : { id: envelope.id });
    const { task, progress } = this.#shared;
    const context = new Context<TTask>(task, this.#held, envelope, this, traceparent, this.#log, progress);
    context.flow = this.#flow;
    if (this.#shared.logger.isLevelEnabled('debug')) this.#log.get().debug({ form: this.#form }, 'task started');
    return new Promise<unknown>((resolve, reject) => {
      this.#reject = reject;
      let value: unknown;
      try {
        value = this.#shared.handler(envelope.payload, context);
      } catch (error) {
        reject(error);
        return;
      }
      if (isThenable(value)) {
        this.#pending = value;
        value.then(resolve, reject);
      } else resolve(value);
    });
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.#reject(reason);
  }

  /** Resolves true once the handler itself has ended (resolved or thrown), false if it still runs after `waitMs`. */
  async ended(waitMs: number): Promise<boolean> {
    if (this.#pending === undefined) return true;
    const end = Promise.resolve(this.#pending).then(
      () => true,
      () => true,
    );
    if (waitMs === Number.POSITIVE_INFINITY) return end;
    const gaveUp = new AbortController();
    const result = await Promise.race([end, sleep(waitMs, gaveUp.signal).then(() => false)]);
    gaveUp.abort();
    return result;
  }
}

/**
 * A message's child logger, made on first use: most messages succeed, and with info logs off
 * nothing needs one.
 */
export class MessageLog {
  readonly #parent: Logger;
  readonly #messageId: string;
  readonly #attempt: number;
  #task: Record<string, unknown> | undefined;
  #logger: Logger | undefined;

  constructor(parent: Logger, messageId: string, attempt: number) {
    this.#parent = parent;
    this.#messageId = messageId;
    this.#attempt = attempt;
  }

  get(): Logger {
    this.#logger ??= this.#parent.child({ messageId: this.#messageId, attempt: this.#attempt, ...this.#task });
    return this.#logger;
  }

  /** Adds the task's bindings (id, trace id), once: pino's setBindings appends rather than replaces. */
  bind(bindings: Record<string, unknown>): void {
    if (this.#task !== undefined) return;
    this.#task = bindings;
    this.#logger?.setBindings(bindings);
  }
}

/** What a handler gets: the logger and the signal are made when first read. */
class Context<TTask extends TaskName> implements HandlerContext<TTask> {
  readonly id: string;
  readonly task: TTask;
  readonly version: number;
  readonly attempt: number;
  readonly messageId: string;
  readonly idempotencyKey: string | undefined;
  readonly envelope: TaskEnvelope<TTask>;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  readonly groupId: string | undefined;
  flow: FlowContext | undefined;
  readonly #call: { readonly signal: AbortSignal };
  readonly #log: MessageLog;
  readonly #report: RunnerShared<TaskName>['progress'];

  constructor(
    task: TTask,
    held: Held,
    envelope: TaskEnvelope<TTask>,
    call: { readonly signal: AbortSignal },
    traceparent: string | undefined,
    log: MessageLog,
    report: RunnerShared<TaskName>['progress'],
  ) {
    this.#report = report;
    this.id = envelope.id;
    this.task = task;
    this.version = envelope.version;
    this.attempt = held.attempt;
    this.messageId = held.messageId;
    this.idempotencyKey = envelope.idempotencyKey;
    this.envelope = envelope;
    this.traceparent = traceparent;
    this.tracestate = envelope.tracestate;
    this.groupId = held.message.Attributes?.MessageGroupId;
    this.#call = call;
    this.#log = log;
  }

  get signal(): AbortSignal {
    return this.#call.signal;
  }

  get logger(): Logger {
    return this.#log.get();
  }

  progress(fraction: number, note?: string): void {
    if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
      throw new RangeError(`progress is ${String(fraction)}, must be a number from 0 to 1`);
    }
    this.#report?.(this.id, fraction, note);
  }
}

/**
 * How a handler call ended:
 * - `succeeded` with its result;
 * - `failed` with what it threw, or the abort reason (`abortedBy` says which abort), once the
 *   handler has really ended;
 * - `ignoring-abort`: aborted, and still running `abortWaitMs` later; `ended` resolves when it
 *   finally does.
 */
export type HandlerOutcome =
  | { kind: 'succeeded'; result: unknown; durationMs: number }
  | { kind: 'failed'; error: unknown; durationMs: number; abortedBy: 'timeout' | 'shutdown' | 'cancel' | undefined }
  | { kind: 'ignoring-abort'; ended: Promise<boolean> };

/**
 * Runs handlers: the context each gets, its abort signal, one timer for every handler timeout,
 * the trace span it runs in, and the wait for an aborted handler to really end.
 */
export class HandlerRunner<TTask extends TaskName> {
  readonly #shared: RunnerShared<TTask>;
  readonly #timeoutMs: number;
  readonly #abortWaitMs: number;
  readonly #shutdown: AbortSignal;
  /** Calls in start order, which with one timeout for all is also deadline order. */
  readonly #calls = new Set<HandlerCall<TTask>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: {
    task: TTask;
    handler: TaskHandler<TTask>;
    timeoutMs: number;
    abortWaitMs: number;
    /** Aborted when shutdown's grace is over; its reason marks the calls it aborts. */
    shutdown: AbortSignal;
    queueUrl: () => string;
    logger: Logger;
    progress?: RunnerShared<TTask>['progress'];
  }) {
    this.#shared = {
      progress: options.progress,
      task: options.task,
      handler: options.handler,
      spanName: `${options.task} process`,
      queueUrl: options.queueUrl,
      logger: options.logger,
    };
    this.#timeoutMs = options.timeoutMs;
    this.#abortWaitMs = options.abortWaitMs;
    this.#shutdown = options.shutdown;
  }

  /** Calls the handler for a decoded message and reports how the call ended. */
  async run(
    held: Held,
    envelope: TaskEnvelope<TTask>,
    form: string,
    log: MessageLog,
    flow?: FlowContext,
  ): Promise<HandlerOutcome> {
    const started = performance.now();
    const deadline = this.#timeoutMs > 0 ? Date.now() + this.#timeoutMs : Number.POSITIVE_INFINITY;
    const call = new HandlerCall(this.#shared, deadline, held, envelope, form, log, flow);
    this.#calls.add(call);
    if (call.deadline !== Number.POSITIVE_INFINITY) this.#armTimeout();
    let result: unknown;
    let failed = false;
    let failure: unknown;
    try {
      result = await withMessageSpan(this.#shared.spanName, envelope.traceparent, envelope.tracestate, call);
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      this.#calls.delete(call);
      if (this.#calls.size === 0) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
    }
    if (call.aborted) {
      // Its message is neither retried nor released while the handler may still run: that would
      // let a second worker start it beside this one. A late result does not count: the abort
      // already decided the call.
      if (!(await call.ended(this.#abortWaitMs))) {
        return { kind: 'ignoring-abort', ended: call.ended(Number.POSITIVE_INFINITY) };
      }
    }
    const durationMs = performance.now() - started;
    if (!failed) return { kind: 'succeeded', result, durationMs };
    const abortedBy = !call.aborted
      ? undefined
      : this.#shutdown.aborted && call.reason === this.#shutdown.reason
        ? ('shutdown' as const)
        : isTaskCancelledError(call.reason)
          ? ('cancel' as const)
          : ('timeout' as const);
    return { kind: 'failed', error: failure, durationMs, abortedBy };
  }

  /** Aborts the running calls of cancelled tasks or flows (`ids`), with a `TaskCancelledError` each. */
  abortCancelled(ids: ReadonlySet<string>): void {
    for (const call of this.#calls) {
      const id = call.cancelledBy(ids);
      if (id !== undefined) call.abort(new TaskCancelledError(id));
    }
  }

  /** Aborts every running call with the shutdown signal's reason (abort the signal first). */
  abortAll(): void {
    for (const call of this.#calls) call.abort(this.#shutdown.reason);
  }

  /**
   * One timer for every handler timeout: armed for the oldest call's deadline (all calls get the
   * same timeout, so start order is deadline order).
   */
  #armTimeout(): void {
    if (this.#timer !== undefined) return;
    const first = this.#calls.values().next().value;
    if (first === undefined || first.deadline === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        const now = Date.now();
        for (const call of this.#calls) {
          if (call.deadline > now) break;
          this.#calls.delete(call);
          call.abort(new WorkerError('HANDLER_TIMEOUT', `handler ran longer than ${this.#timeoutMs} ms`));
        }
        this.#armTimeout();
      },
      Math.max(0, first.deadline - Date.now()),
    );
  }
}
