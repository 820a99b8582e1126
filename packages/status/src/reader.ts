import { type DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { classifyAwsError } from '@tq/aws';
import { fromItem } from './attributes.js';
import { BY_TASK_INDEX } from './table.js';
import { FINAL_STATES, type TaskEvent, type TaskState, type TaskStatus } from './types.js';

/** Thrown when the status table does not exist: nothing is tracked on this endpoint/account. */
export class StatusNotTrackedError extends Error {
  override readonly name = 'StatusNotTrackedError';
  readonly code = 'STATUS_NOT_TRACKED' as const;
  readonly tableName: string;
  constructor(tableName: string, options?: { cause?: unknown }) {
    super(
      `task status is not tracked here: the table ${tableName} does not exist (\`tq provision\` creates it; workers record with TQ_STATUS=on)`,
      options,
    );
    this.tableName = tableName;
  }
}

/** An item as a `TaskStatus`: timeline sorted by time, steps after a final one marked duplicate. */
export function toTaskStatus(item: Record<string, unknown>): TaskStatus {
  const events = ((item.events as TaskEvent[] | undefined) ?? [])
    .map((step, index) => ({ step, index }))
    .sort((a, b) => a.step.at.localeCompare(b.step.at) || a.index - b.index)
    .map(({ step }) => step);
  let finalSeen = false;
  const marked = events.map((step) => {
    const duplicate = finalSeen && (step.state === 'received' || step.state === 'running');
    if (FINAL_STATES.includes(step.state)) finalSeen = true;
    return duplicate ? { ...step, duplicate: true } : step;
  });
  const status: TaskStatus = {
    id: item.id as string,
    task: item.task as string,
    state: item.state as TaskState,
    attempts: (item.attempts as number | undefined) ?? 0,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    events: marked,
    expiresAt: (item.expiresAt as number | undefined) ?? 0,
  };
  if (item.finishedAt !== undefined) status.finishedAt = item.finishedAt as string;
  if (item.durationMs !== undefined) status.durationMs = item.durationMs as number;
  if (typeof item.result === 'string') status.result = JSON.parse(item.result);
  if (item.resultTruncated === true) status.resultTruncated = true;
  if (Array.isArray(item.artifacts)) status.artifacts = item.artifacts as string[];
  if (item.error !== undefined) status.error = item.error as { code?: string; message: string };
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
    throw error;
  }

  /** A task's status, or undefined when the store never heard of it (or it expired). */
  async get(id: string): Promise<TaskStatus | undefined> {
    const out = await this.#dynamodb
      .send(new GetItemCommand({ TableName: this.#tableName, Key: { id: { S: id } }, ConsistentRead: true }))
      .catch((error: unknown) => this.#notTracked(error));
    if (!out.Item) return undefined;
    const status = toTaskStatus(fromItem(out.Item));
    return status.expiresAt > 0 && status.expiresAt * 1000 < Date.now() ? undefined : status;
  }

  /** A task type's most recently updated tasks, newest first; `state` keeps only those in it. */
  async recent(task: string, options: { limit?: number; state?: TaskState } = {}): Promise<TaskStatus[]> {
    const limit = options.limit ?? 10;
    const found: TaskStatus[] = [];
    let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
    const now = Date.now();
    do {
      const out = await this.#dynamodb
        .send(
          new QueryCommand({
            TableName: this.#tableName,
            IndexName: BY_TASK_INDEX,
            KeyConditionExpression: '#task = :task',
            ExpressionAttributeNames: { '#task': 'task' },
            ExpressionAttributeValues: { ':task': { S: task } },
            ScanIndexForward: false,
            Limit: Math.max(limit * 2, 20),
            ExclusiveStartKey: start,
          }),
        )
        .catch((error: unknown) => this.#notTracked(error));
      for (const item of out.Items ?? []) {
        const status = toTaskStatus(fromItem(item));
        if (status.expiresAt > 0 && status.expiresAt * 1000 < now) continue;
        if (options.state && status.state !== options.state) continue;
        found.push(status);
        if (found.length >= limit) return found;
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return found;
  }
}
