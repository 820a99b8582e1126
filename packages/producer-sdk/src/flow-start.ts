import { randomUUID } from 'node:crypto';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { classifyAwsError } from '@tq/aws';
import {
  registry as builtinRegistry,
  type FlowRef,
  FlowValidationError,
  isTaskValidationError,
  planFlow,
  type TaskEnvelope,
  type TaskName,
  type TaskRegistry,
  type Violation,
} from '@tq/contracts';
import { type FlowStore, type FlowTaskEntry, type HeldTask, StatusNotTrackedError } from '@tq/status';
import { sendBatch } from './batch.js';
import type { Destinations } from './destinations.js';
import { isProducerError, ProducerError } from './errors.js';
import { activeTraceContext, type Prepared, prepareTask, type TraceHeaders } from './prepare.js';
import type { BatchItemResult, FlowSpec, FlowStarted } from './types.js';

/** How a producer or a worker sends a flow's tasks. */
export interface FlowSendDeps {
  sqs: SQSClient;
  sns: SNSClient;
  destinations: Destinations;
  /** Batch calls at once. */
  concurrency: number;
  /** Attempts per task that failed transiently. */
  attempts: number;
}

/** A prepared task as the flow holds it until its turn. */
export function toHeld(path: string, prepared: Prepared): HeldTask {
  return {
    path,
    id: prepared.envelope.id,
    task: prepared.envelope.task,
    body: prepared.body,
    attributes: prepared.attributes as HeldTask['attributes'],
    route: prepared.route,
    bytes: prepared.bytes,
    limit: prepared.limit,
  };
}

/** A held task as a batch sends it: exactly as it was prepared. */
function fromHeld(held: HeldTask): Prepared {
  return {
    envelope: { id: held.id, task: held.task } as TaskEnvelope,
    route: held.route,
    fifo: false,
    body: held.body,
    attributes: held.attributes,
    bytes: held.bytes,
    limit: held.limit,
    options: {},
  };
}

/**
 * Sends tasks as they were prepared (batched, retried like `sendBatch`); resolves with each task's
 * result, in order.
 */
export function sendPrepared(tasks: readonly Prepared[], deps: FlowSendDeps): Promise<BatchItemResult[]> {
  return sendBatch<Prepared>(tasks, {
    ...deps,
    prepare: (prepared) => prepared,
    // Oversized tasks were claim-checked when the flow was prepared.
    claimCheck: async () => undefined,
  });
}

/** Sends a flow's held tasks; rejects with the first failure unless every one went. */
export async function sendHeld(tasks: readonly HeldTask[], deps: FlowSendDeps): Promise<void> {
  const results = await sendPrepared(tasks.map(fromHeld), deps);
  const failed = results.find((result) => !result.ok);
  if (failed !== undefined && !failed.ok) throw failed.error;
}

/** What `startFlow` needs of the producer. */
export interface FlowStartDeps extends FlowSendDeps {
  registry: TaskRegistry | undefined;
  prepare: {
    registry: TaskRegistry | undefined;
    claimChecks: boolean;
    fifoTasks?: readonly string[] | undefined;
  };
  claimCheck(prepared: Prepared): Promise<void>;
  store(): FlowStore;
  tableName(): string;
  /** Hears every task sent when the flow started, for the status table's `sent` steps. */
  sent(task: { id: string; task: string }, at: string): void;
}

/** Prepares every task of a planned flow; a task that cannot go (a FIFO task) is a violation at its path. */
function prepareAll(
  plan: ReturnType<typeof planFlow>,
  flowId: string,
  deps: FlowStartDeps,
  trace: TraceHeaders,
): Prepared[] {
  const violations: Violation[] = [];
  const prepared = plan.tasks.map((task) => {
    const ref: FlowRef = { id: flowId, path: task.path };
    if (task.input !== undefined) ref.input = task.input;
    if (task.onFailure !== undefined && task.onFailure !== 'fail') ref.onFailure = task.onFailure;
    try {
      return prepareTask(
        task.task as TaskName,
        task.payload as never,
        task.idempotencyKey === undefined ? {} : { idempotencyKey: task.idempotencyKey },
        { ...deps.prepare, trace, flow: { ref, version: task.version } },
      );
    } catch (error) {
      if (!isTaskValidationError(error) && !isProducerError(error)) throw error;
      violations.push({ path: task.path, message: (error as Error).message });
      return undefined;
    }
  });
  if (violations.length > 0) throw new FlowValidationError('INVALID_FLOW', 'invalid flow', violations);
  return prepared as Prepared[];
}

/**
 * Starts a flow: checks it whole (`planFlow`), prepares every task (claim-checking oversized
 * ones), writes the flow's records with the tasks held for later, then sends the tasks that
 * begin it. Nothing is sent from a flow that is refused, and nothing before its records exist.
 */
export async function startFlow(spec: FlowSpec, deps: FlowStartDeps, id?: string): Promise<FlowStarted> {
  const plan = planFlow(spec, deps.registry ?? builtinRegistry);
  const flowId = id ?? randomUUID();
  const prepared = prepareAll(plan, flowId, deps, activeTraceContext());
  for (const task of prepared) if (task.bytes > task.limit) await deps.claimCheck(task);
  const tasks: FlowTaskEntry[] = plan.tasks.map((task, index) => ({
    path: task.path,
    task: task.task,
    id: (prepared[index] as Prepared).envelope.id,
  }));
  const createdAt = new Date().toISOString();
  try {
    await deps.store().create({
      id: flowId,
      createdAt,
      groups: plan.groups,
      held: plan.tasks.flatMap((task, index) => (task.start ? [] : [toHeld(task.path, prepared[index] as Prepared)])),
      tasks,
      policies: plan.policies,
    });
  } catch (error) {
    if (classifyAwsError(error) === 'not-found') throw new StatusNotTrackedError(deps.tableName(), { cause: error });
    throw error;
  }
  const first = prepared.filter((_, index) => plan.tasks[index]?.start);
  const results = await sendPrepared(first, deps);
  const failed = results.flatMap((result, index) => (result.ok ? [] : [{ index, error: result.error }]));
  results.forEach((result, index) => {
    if (result.ok) deps.sent({ id: result.id, task: (first[index] as Prepared).envelope.task }, createdAt);
  });
  if (failed.length > 0) {
    const { error } = failed[0] as { error: Error };
    const path = plan.tasks.filter((task) => task.start)[(failed[0] as { index: number }).index]?.path ?? '$';
    await deps.store().finish(flowId, 'failed', { path, code: 'SEND_FAILED', message: error.message });
    throw new ProducerError(
      'AWS_ERROR',
      `flow ${flowId}: ${failed.length} of its first ${first.length} task(s) could not be sent, so the flow was marked failed: ${error.message}`,
      { cause: error },
    );
  }
  return { id: flowId, tasks };
}
