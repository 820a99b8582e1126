import {
  type AttributeValue,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { classifyAwsError, isServiceMissingError } from '@tq/aws';
import { fromItem } from './attributes.js';
import { CANCEL_STEP } from './cancels.js';
import { PROGRESS_STEP } from './progress.js';
import { type RecentEntry, recentKey } from './steps.js';
import { FINAL_STATES, type TaskEvent, type TaskProgress, type TaskState, type TaskStatus } from './types.js';

/**
 * Thrown when nothing is tracked on this endpoint/account: the status table does not exist
 * (`reason: 'no-table'`), or the endpoint serves no DynamoDB at all (`'no-dynamodb'`: an
 * SQS/SNS/S3 emulator such as ElasticMQ or plain fauxqs).
 */
export class StatusNotTrackedError extends Error {
  override readonly name = 'StatusNotTrackedError';
  readonly code = 'STATUS_NOT_TRACKED' as const;
  readonly tableName: string;
  readonly reason: 'no-table' | 'no-dynamodb';
  constructor(tableName: string, options?: { cause?: unknown; reason?: 'no-table' | 'no-dynamodb' }) {
    const reason = options?.reason ?? 'no-table';
    super(
      reason === 'no-dynamodb'
        ? 'task status is not tracked here: the endpoint serves no DynamoDB (set TQ_DYNAMODB_ENDPOINT to a DynamoDB endpoint such as dynalite or DynamoDB Local, then run `tq provision`)'
        : `task status is not tracked here: the table ${tableName} does not exist (\`tq provision\` creates it; workers record with TQ_STATUS=on)`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.tableName = tableName;
    this.reason = reason;
  }
}

/** One stored item: a burst of a task's steps and what its last step carries. */
interface StepItem {
  id: string;
  task: string;
  state: TaskState;
  expiresAt?: number;
  finishedAt?: string;
  attempt: number;
  events: TaskEvent[];
  durationMs?: number;
  result?: unknown;
  resultTruncated?: boolean;
  artifacts?: string[];
  error?: { code?: string; message: string };
}

/** A stored item with its `data` (the writer's JSON string) spread out. */
function stepItem(item: Record<string, unknown>): StepItem {
  const data = typeof item.data === 'string' ? (JSON.parse(item.data) as Partial<StepItem>) : {};
  return { ...(item as unknown as StepItem), events: [], ...data };
}

const byTime = (a: { at: string }, b: { at: string }) => a.at.localeCompare(b.at);

/**
 * A task's items as one `TaskStatus`. The first final item (by time) decides: a late or duplicate
 * delivery never changes a task that succeeded or was dead-lettered; before that, the latest
 * step (by attempt, then time) is the state. Steps that came after the final one and re-ran
 * nothing new (received, running) are marked `duplicate`.
 */
export function toTaskStatus(items: Record<string, unknown>[]): TaskStatus | undefined {
  const steps = items.filter((item) => item.id !== undefined).map(stepItem);
  if (steps.length === 0) return undefined;
  const events = steps
    .flatMap((item) => item.events)
    .map((step, index) => ({ step, index }))
    .sort((a, b) => byTime(a.step, b.step) || a.index - b.index)
    .map(({ step }) => step);
  const final = steps
    .filter((item) => FINAL_STATES.includes(item.state) && item.finishedAt !== undefined)
    .sort((a, b) => (a.finishedAt as string).localeCompare(b.finishedAt as string))[0];
  const latest = [...steps].sort((a, b) => {
    const lastOf = (item: StepItem) => item.events.at(-1)?.at ?? '';
    return a.attempt - b.attempt || lastOf(a).localeCompare(lastOf(b));
  })[steps.length - 1] as StepItem;
  const decisive = final ?? latest;
  let finalSeen = false;
  const marked = events.map((step) => {
    const duplicate = finalSeen && (step.state === 'received' || step.state === 'running');
    if (final && step.at === final.finishedAt && step.state === final.state) finalSeen = true;
    return duplicate ? { ...step, duplicate: true } : step;
  });
  const first = steps[0] as StepItem;
  const status: TaskStatus = {
    id: first.id,
    task: first.task,
    state: decisive.state,
    attempts: Math.max(...steps.map((item) => item.attempt)),
    createdAt: events[0]?.at ?? '',
    updatedAt: events[events.length - 1]?.at ?? '',
    events: marked,
    expiresAt: Math.max(...steps.map((item) => item.expiresAt ?? 0)),
  };
  if (final) status.finishedAt = final.finishedAt as string;
  if (decisive.durationMs !== undefined) status.durationMs = decisive.durationMs;
  if (decisive.state === 'succeeded') {
    if (decisive.result !== undefined) status.result = decisive.result;
    if (decisive.resultTruncated) status.resultTruncated = true;
    if (decisive.artifacts) status.artifacts = decisive.artifacts;
  } else {
    const failed = [...steps].reverse().find((item) => item.error !== undefined);
    if (failed?.error) status.error = failed.error;
  }
  return status;
}

/** Reads task statuses. Items past their `expiresAt` count as gone (DynamoDB's TTL deletes them later). */
export class StatusReader {
  readonly #dynamodb: DynamoDBClient;
  readonly #tableName: string;

  constructor(options: { dynamodb: DynamoDBClient; tableName: string }) {
    this.#dynamodb = options.dynamodb;
    this.#tableName = options.tableName;
  }

  #notTracked(error: unknown): never {
    if (classifyAwsError(error) === 'not-found') throw new StatusNotTrackedError(this.#tableName, { cause: error });
    if (isServiceMissingError(error)) {
      throw new StatusNotTrackedError(this.#tableName, { cause: error, reason: 'no-dynamodb' });
    }
    throw error;
  }

  /** Every item a query finds, page after page; a missing table is `StatusNotTrackedError`. */
  async *#items(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>) {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.#dynamodb
        .send(new QueryCommand({ ...input, TableName: this.#tableName, ExclusiveStartKey: start }))
        .catch((error: unknown) => this.#notTracked(error));
      for (const item of out.Items ?? []) yield item;
      start = out.LastEvaluatedKey;
    } while (start);
  }

  /** A task's status, or undefined when the store never heard of it (or it expired). */
  async get(id: string): Promise<TaskStatus | undefined> {
    // `#…` keys hold a task type's index items, never a task (task ids are UUIDs).
    if (id.startsWith('#')) return undefined;
    const items: Record<string, unknown>[] = [];
    let progress: TaskProgress | undefined;
    let cancel: { at: string; reason?: string } | undefined;
    for await (const item of this.#items({
      KeyConditionExpression: '#id = :id',
      ExpressionAttributeNames: { '#id': 'id' },
      ExpressionAttributeValues: { ':id': { S: id } },
      ConsistentRead: true,
    })) {
      // `~…` sort keys are a task's progress or a flow's records (`FlowStore`), never steps.
      if (item.step?.S === PROGRESS_STEP) progress = JSON.parse(item.data?.S ?? '{}') as TaskProgress;
      else if (item.step?.S === CANCEL_STEP) {
        const { at, reason } = JSON.parse(item.data?.S ?? '{}') as { at: string; reason?: string };
        cancel = reason === undefined ? { at } : { at, reason };
      } else if (!item.step?.S?.startsWith('~')) items.push(fromItem(item));
    }
    const status = toTaskStatus(items);
    if (status && progress) status.progress = progress;
    if (status && cancel) status.cancelRequested = cancel;
    return status && status.expiresAt > 0 && status.expiresAt * 1000 < Date.now() ? undefined : status;
  }

  /**
   * A task type's most recently finished tasks (succeeded or dead-lettered), newest first;
   * `state` keeps only those that ended in it. Read from the type's index items (`#recent#<task>`,
   * newest first): an item sorts by the newest task it lists, so once the tasks found are at least
   * as new as the next item's newest, no later item can list a newer one. Each task is read whole
   * (`get`), so what it shows is what `get` would.
   */
  async recent(task: string, options: { limit?: number; state?: TaskState } = {}): Promise<TaskStatus[]> {
    const limit = options.limit ?? 10;
    const found: TaskStatus[] = [];
    const seen = new Set<string>();
    /** Entries read but not yet taken, newest first. */
    let waiting: RecentEntry[] = [];
    const take = async (newerThan: string) => {
      while (found.length < limit && waiting.length > 0 && (waiting[0] as RecentEntry).finishedAt >= newerThan) {
        const entry = waiting.shift() as RecentEntry;
        if (seen.has(entry.id) || (options.state && entry.state !== options.state)) continue;
        seen.add(entry.id);
        const status = await this.get(entry.id);
        if (!status || (options.state && status.state !== options.state)) continue;
        found.push(status);
      }
    };
    for await (const item of this.#items({
      KeyConditionExpression: '#id = :id',
      ExpressionAttributeNames: { '#id': 'id' },
      ExpressionAttributeValues: { ':id': { S: recentKey(task) } },
      ScanIndexForward: false,
      Limit: Math.max(limit, 10),
    })) {
      const newest = (item.step?.S ?? '').split('#')[0] ?? '';
      await take(newest);
      if (found.length >= limit) return found;
      const entries = JSON.parse(item.data?.S ?? '[]') as RecentEntry[];
      waiting = [...waiting, ...entries].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
    }
    await take('');
    return found;
  }
}
