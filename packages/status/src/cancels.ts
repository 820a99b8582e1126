import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { queryItems } from './attributes.js';
import { MAX_MESSAGE_CHARS } from './types.js';

// Cancellation requests in the status table: one item under the cancelled id (what a reader of
// that task or flow sees), and one in the `#cancels` index, sorted by time, which workers read
// with one query per interval whatever their throughput: a cancel is rare, a task is not.

/** The sort key of a task's or flow's cancellation request. */
export const CANCEL_STEP = '~cancel';
/** The partition that lists every cancellation request by time. */
export const CANCELS_KEY = '#cancels';

/** A cancellation request. */
export interface CancelRequest {
  /** The task's or flow's id. */
  id: string;
  at: string;
  reason?: string;
}

/** Reads and writes cancellation requests. */
export class CancelStore {
  readonly #dynamodb: DynamoDBClient;
  readonly #tableName: string;
  readonly #ttlSeconds: number;

  constructor(options: { dynamodb: DynamoDBClient; tableName: string; ttlSeconds: number }) {
    this.#dynamodb = options.dynamodb;
    this.#tableName = options.tableName;
    this.#ttlSeconds = options.ttlSeconds;
  }

  /** Records that `id` (a task's or a flow's) is cancelled. Idempotent: the first request's time stands for readers. */
  async request(id: string, reason?: string): Promise<CancelRequest> {
    const request: CancelRequest = { id, at: new Date().toISOString() };
    if (reason !== undefined) request.reason = reason.slice(0, MAX_MESSAGE_CHARS);
    const expiresAt = { N: String(Math.floor(Date.now() / 1000) + this.#ttlSeconds) };
    const data = { S: JSON.stringify(request) };
    // The index entry first: a worker that reads it before the task's own item still cancels.
    await this.#dynamodb.send(
      new PutItemCommand({
        TableName: this.#tableName,
        Item: { id: { S: CANCELS_KEY }, step: { S: `${request.at}#${id}` }, data, expiresAt },
      }),
    );
    await this.#dynamodb.send(
      new PutItemCommand({
        TableName: this.#tableName,
        Item: { id: { S: id }, step: { S: CANCEL_STEP }, data, expiresAt },
      }),
    );
    return request;
  }

  /** The cancellation request of `id`, if there is one. */
  async get(id: string): Promise<CancelRequest | undefined> {
    const out = await this.#dynamodb.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { id: { S: id }, step: { S: CANCEL_STEP } },
        ConsistentRead: true,
      }),
    );
    return out.Item?.data?.S === undefined ? undefined : (JSON.parse(out.Item.data.S) as CancelRequest);
  }

  /**
   * The requests made after the `after` position (a sort key this returned before; none: since
   * `since`), oldest first, and the position to ask from next time.
   */
  async since(
    after: string | undefined,
    since: Date,
  ): Promise<{ requests: CancelRequest[]; position: string | undefined }> {
    const requests: CancelRequest[] = [];
    let position = after;
    for await (const item of queryItems(this.#dynamodb, {
      TableName: this.#tableName,
      KeyConditionExpression: '#id = :id AND #step > :after',
      ExpressionAttributeNames: { '#id': 'id', '#step': 'step' },
      ExpressionAttributeValues: { ':id': { S: CANCELS_KEY }, ':after': { S: after ?? since.toISOString() } },
    })) {
      if (item.data?.S !== undefined) requests.push(JSON.parse(item.data.S) as CancelRequest);
      position = item.step?.S ?? position;
    }
    return { requests, position };
  }
}
