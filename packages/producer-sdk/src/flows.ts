import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  registry as builtinRegistry,
  FLOW_LIMITS,
  type FlowFailurePolicy,
  type FlowOutcome,
  type FlowRef,
  flowOutput,
  flowParent,
  formatS3Uri,
  parseS3Uri,
  planFlow,
  startsWith,
  type TaskName,
  type TaskRegistry,
} from '@tq/contracts';
import { type FlowStore, type FlowTaskEntry, GROUP_SHARD_SIZE, type HeldTask, type StoredOutcome } from '@tq/status';
import { ProducerError } from './errors.js';
import { toHeld } from './flow-start.js';
import { prepareTask } from './prepare.js';
import type { FlowTaskSpec } from './types.js';

/** Results up to this many bytes of JSON are kept in the flow's record; larger ones go to S3. */
export const FLOW_RESULT_INLINE_BYTES = 16 * 1024;

/** How long a worker holds the right to start what follows a node before another may take over. */
export const FLOW_CLAIM_LEASE_MS = 30_000;

const FLOW_BUSY_ERROR = Symbol.for('@tq/producer-sdk/FlowBusyError');

/**
 * Thrown by `FlowEngine.ended` when another delivery of the same task holds the right to start
 * what follows it (two copies of one message running side by side): try again after
 * `retryInSeconds`, by when it has started it or its lease ran out.
 */
export class FlowBusyError extends Error {
  override readonly name = 'FlowBusyError';
  readonly retryInSeconds: number;

  constructor(message: string, retryInSeconds: number) {
    super(message);
    this.retryInSeconds = retryInSeconds;
    Object.defineProperty(this, FLOW_BUSY_ERROR, { value: true });
  }
}

/** True for a `FlowBusyError`, even one created by another copy of this package. */
export function isFlowBusyError(value: unknown): value is FlowBusyError {
  return typeof value === 'object' && value !== null && FLOW_BUSY_ERROR in value;
}

/** What became of a flow task, as its worker reports it. */
export type FlowTaskOutcome = { ok: true; result: unknown } | { ok: false; code: string; message: string };

/** What the flow engine needs: the flow's records, a way to send held tasks, and S3 for large results. */
export interface FlowEngineOptions {
  store: FlowStore;
  /** Sends tasks exactly as they were prepared when the flow started; rejects unless all went. */
  send(tasks: readonly HeldTask[]): Promise<void>;
  /** Task types that children added at run time are checked against (default: the built-in registry). */
  registry?: TaskRegistry | undefined;
  /** Where results over `FLOW_RESULT_INLINE_BYTES` go (`tq/flow-results/<flow>/<path>.json`), and are read from. */
  s3?: S3Client | undefined;
  bucket?: string | undefined;
}

type Failure = Extract<FlowOutcome, { ok: false }>;

/**
 * Carries a flow on from each task's end: records the node's outcome once, counts it in its
 * group once, and starts what follows exactly when the write that decides it succeeded: the next
 * step of a chain, a group's `then` when its last child is counted, the flow's end at the root.
 * A worker calls it after a flow task's handler ended and before it deletes the message, so a
 * crash in between leaves a redelivery that finishes the job: the recorded outcome stands (the
 * handler does not run again), and only the child that closed a group starts what follows it.
 */
export class FlowEngine {
  readonly #store: FlowStore;
  readonly #send: FlowEngineOptions['send'];
  readonly #s3: S3Client | undefined;
  readonly #bucket: string | undefined;
  readonly #registry: TaskRegistry;

  constructor(options: FlowEngineOptions) {
    this.#registry = options.registry ?? builtinRegistry;
    this.#store = options.store;
    this.#send = options.send;
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
  }

  /**
   * The outcome already recorded for a flow task (an earlier delivery ended it): the worker then
   * carries the flow on from it (`ended`) instead of running the handler again.
   */
  async recorded(ref: FlowRef): Promise<StoredOutcome | undefined> {
    const { outcomes } = await this.#store.outcomes(ref.id, ref.path);
    return outcomes.get(ref.path);
  }

  /**
   * Adds tasks to the group a running flow task belongs to (the nearest group above it), while it
   * runs: they are checked whole first (`FlowValidationError`, paths relative to `tasks`), then
   * counted in the group, then sent, so the group cannot close before they ended. They start
   * without an input. Resolves with their paths and ids.
   */
  async add(ref: FlowRef, tasks: readonly FlowTaskSpec[]): Promise<FlowTaskEntry[]> {
    let group: string | undefined;
    for (let edge = flowParent(ref.path); edge !== undefined; edge = flowParent(edge.parent)) {
      if (edge.kind === 'group') {
        group = edge.parent;
        break;
      }
    }
    if (group === undefined) {
      throw new ProducerError(
        'INVALID_OPTIONS',
        `flow task ${ref.path} is in no group: only a group's tasks add children`,
      );
    }
    const plan = planFlow({ group: tasks }, this.#registry);
    const first = await this.#store.addChildren(ref.id, group, plan.tasks.length, FLOW_LIMITS.maxTasks);
    const held = plan.tasks.map((task, offset) => {
      const path = `${group}.group[${first.index + offset}]`;
      const child: FlowRef = { id: ref.id, path, shard: first.shard + Math.floor(offset / GROUP_SHARD_SIZE) };
      if (task.onFailure !== undefined && task.onFailure !== 'fail') child.onFailure = task.onFailure;
      const options = task.idempotencyKey === undefined ? {} : { idempotencyKey: task.idempotencyKey };
      const prepared = prepareTask(task.task as TaskName, task.payload as never, options, {
        registry: this.#registry,
        claimChecks: false,
        trace: {},
        flow: { ref: child, version: task.version },
      });
      return toHeld(path, prepared);
    });
    const entries = held.map(({ path, task, id }) => ({ path, task, id }));
    try {
      await this.#store.listTasks(ref.id, entries);
      await this.#send(held);
    } catch (error) {
      // Counted but maybe not sent: they fail, so the group does not wait for them for ever.
      for (const [offset, task] of held.entries()) {
        const failure = { ok: false as const, id: task.id, task: task.task, at: task.path, code: 'SEND_FAILED' };
        const shard = first.shard + Math.floor(offset / GROUP_SHARD_SIZE);
        await this.#ended(ref.id, task.path, { ...failure, message: (error as Error).message, policy: 'fail' }, shard);
      }
      throw error;
    }
    return entries;
  }

  /** A flow task's input: the output of the node its `input` names (undefined without one). */
  async input(ref: FlowRef): Promise<unknown> {
    if (ref.input === undefined) return undefined;
    const { outcomes, sizes } = await this.#store.outcomes(ref.id, ref.input);
    const resolved = new Map<string, FlowOutcome>();
    await Promise.all(
      [...outcomes].map(async ([path, outcome]) => {
        resolved.set(path, await this.#resolve(outcome));
      }),
    );
    return flowOutput(ref.input, resolved, sizes);
  }

  /** An outcome with its result read back from S3 when it was stored there. */
  async #resolve(outcome: StoredOutcome): Promise<FlowOutcome> {
    if (!outcome.ok) return outcome;
    const uri = (outcome as { resultRef?: string }).resultRef;
    if (uri === undefined) return { ok: true, result: outcome.result };
    if (this.#s3 === undefined) {
      throw new ProducerError('AWS_ERROR', `flow result ${uri} is in S3 and no S3 client was given to read it`);
    }
    const location = parseS3Uri(uri);
    const out = await this.#s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
    return { ok: true, result: JSON.parse((await out.Body?.transformToString()) ?? 'null') };
  }

  /**
   * Records how a flow task ended and starts what follows. Resolves once what follows was sent
   * (or nothing follows); rejects when the store or a send failed, leaving the message for a
   * redelivery to finish.
   */
  async ended(ref: FlowRef, task: { id: string; task: string }, outcome: FlowTaskOutcome): Promise<void> {
    const recorded: FlowOutcome & { id: string } = outcome.ok
      ? { ok: true, id: task.id, ...(await this.#stored(ref, outcome.result)) }
      : {
          ok: false,
          id: task.id,
          task: task.task,
          at: ref.path,
          code: outcome.code,
          message: outcome.message,
          policy: ref.onFailure ?? 'fail',
        };
    await this.#ended(ref.id, ref.path, recorded, ref.shard);
  }

  /** A result to record: inline when small, else in S3 with its `s3://` URI recorded. */
  async #stored(
    ref: FlowRef,
    result: unknown,
  ): Promise<{ result: unknown } | { result: undefined; resultRef: string }> {
    const json = JSON.stringify(result);
    if (json === undefined || Buffer.byteLength(json) <= FLOW_RESULT_INLINE_BYTES) return { result };
    if (this.#s3 === undefined || this.#bucket === undefined) {
      throw new ProducerError(
        'PAYLOAD_TOO_LARGE',
        `the result of ${ref.path} in flow ${ref.id} is ${Buffer.byteLength(json)} bytes: over ${FLOW_RESULT_INLINE_BYTES} bytes it goes to S3, and no bucket was given`,
      );
    }
    const key = `tq/flow-results/${ref.id}/${ref.path}.json`;
    await this.#s3.send(
      new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: json, ContentType: 'application/json' }),
    );
    return { result: undefined, resultRef: formatS3Uri(this.#bucket, key) };
  }

  /**
   * Records a node's outcome (first writer wins, and holds the right to carry on from it) and
   * carries on. A later delivery of the same task carries on from the recorded outcome unless that
   * was done: a group's child counts itself again (counting is idempotent), any other node claims
   * the right to carry on first.
   */
  async #ended(flowId: string, path: string, outcome: FlowOutcome & { id?: string }, shard?: number): Promise<void> {
    const recorded = await this.#store.recordOutcome(flowId, path, outcome, FLOW_CLAIM_LEASE_MS);
    if (recorded.recorded) {
      await this.#after(flowId, path, outcome, true, shard);
      return;
    }
    const { existing } = recorded;
    if (existing.continued) return;
    if (flowParent(path)?.kind !== 'group') await this.#claim(flowId, 'out', path);
    await this.#after(flowId, path, existing, true, shard);
  }

  /** Claims the right to carry on from a node or group; throws `FlowBusyError` while another holds it. */
  async #claim(flowId: string, kind: 'out' | 'join', path: string): Promise<boolean> {
    const claim = await this.#store.claim(flowId, kind, path, FLOW_CLAIM_LEASE_MS);
    if (claim.kind === 'claimed') return true;
    if (claim.kind === 'done') return false;
    const seconds = Math.max(1, Math.ceil((claim.until - Date.now()) / 1000));
    throw new FlowBusyError(`another delivery is carrying flow ${flowId} on from ${path}`, seconds);
  }

  /** What follows a node that ended: `marked` when it has an outcome record to mark as carried on. */
  async #after(flowId: string, path: string, outcome: FlowOutcome, marked: boolean, shard?: number): Promise<void> {
    const failing = !outcome.ok && outcome.policy === 'fail';
    const parent = flowParent(path);
    if (parent === undefined) {
      const error = failing ? { path: outcome.at ?? path, code: outcome.code, message: outcome.message } : undefined;
      await this.#store.finish(flowId, failing ? 'failed' : 'succeeded', error);
    } else if (parent.kind === 'then') {
      // A group with `then` ends as its `then` does.
      if (failing) await this.#compositeFailed(flowId, parent.parent, outcome);
      else await this.#after(flowId, parent.parent, { ok: true, result: undefined }, false);
    } else if (parent.kind === 'chain') {
      if (failing) await this.#compositeFailed(flowId, parent.parent, outcome);
      else {
        const next = `${parent.parent}.chain[${parent.index + 1}]`;
        const started = await this.#start(flowId, next);
        if (started === 'nothing') await this.#after(flowId, parent.parent, { ok: true, result: undefined }, false);
      }
    } else {
      const counted = shard ?? Math.floor(parent.index / GROUP_SHARD_SIZE);
      await this.#counted(flowId, parent.parent, parent.index, counted, outcome);
      // Group children are not marked: the group's count says whether they were counted.
      return;
    }
    if (marked) await this.#store.markContinued(flowId, 'out', path);
  }

  /**
   * Counts a group's child; the child whose count closed the group claims the right to start its
   * `then` (or end the group), so copies of it running side by side start it once.
   */
  async #counted(flowId: string, group: string, index: number, shard: number, outcome: FlowOutcome): Promise<void> {
    const failing = !outcome.ok && outcome.policy === 'fail';
    const join = await this.#store.count(flowId, group, index, shard, failing);
    if (join.counted && failing) {
      // The group fails now: its other children run on, but nothing follows it.
      await this.#compositeFailed(flowId, group, outcome as Failure);
      return;
    }
    if (!join.closed || join.failed || join.continued) return;
    if (!(await this.#claim(flowId, 'join', group))) return;
    if (join.then) await this.#start(flowId, `${group}.then`);
    else await this.#after(flowId, group, { ok: true, result: undefined }, false);
    await this.#store.markContinued(flowId, 'join', group);
  }

  /** A chain or group failed beneath: it fails by its own policy (the flow's `policies`, default `fail`). */
  async #compositeFailed(flowId: string, path: string, cause: Failure): Promise<void> {
    const flow = await this.#store.get(flowId);
    const policy: FlowFailurePolicy = flow?.policies[path] ?? 'fail';
    const failure: Failure = { ok: false, code: cause.code, message: cause.message, policy };
    if (cause.task !== undefined) failure.task = cause.task;
    if (cause.at !== undefined) failure.at = cause.at;
    await this.#ended(flowId, path, failure);
  }

  /**
   * Starts a node: sends the held tasks that begin it, unless the flow is no longer running.
   * `nothing` when no task is held there (the node does not exist: a chain's end).
   */
  async #start(flowId: string, path: string): Promise<'started' | 'nothing' | 'stopped'> {
    const held = await this.#store.held(flowId, path);
    if (held.length === 0) return 'nothing';
    const flow = await this.#store.get(flowId);
    if (flow === undefined || flow.state !== 'running') return 'stopped';
    await this.#send(held.filter((task) => startsWith(path, task.path)));
    return 'started';
  }
}
