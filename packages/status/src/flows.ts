import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { AWS_LIMITS, retryBatch } from '@tq/aws';
import type { FlowFailurePolicy, FlowOutcome } from '@tq/contracts';
import { queryItems } from './attributes.js';
import {
  conditionFailed,
  cut,
  FLOW_KEY,
  flowRecord,
  GROUP_SHARD_SIZE,
  heldKey,
  joinKey,
  type NewFlow,
  newFlowItems,
  outKey,
  shardItems,
  shardKey,
  storedOutcome,
} from './flow-items.js';
import { type FlowView, readFlowView } from './flow-read.js';
import type { FlowRecord, FlowState, FlowTaskEntry, GroupCount, HeldTask, StoredOutcome } from './flow-types.js';
import { DEFAULT_TTL_SECONDS } from './types.js';

// A flow's state in the status table, under the flow's id: one item for the flow, one per group
// (its fan-in count), one per task held until what precedes it completes, one per node that
// ended (its outcome), and the flow's task list. Their sort keys start with `~`, which no step of
// a task's timeline does, so a task's reader never mistakes them for steps.

/**
 * A flow's records in the status table. Every write that decides something is conditional: a
 * node's outcome is recorded once (the first writer wins), a group counts each child once (its
 * index joins a number set in the same update that lowers the open count), and the flow's state
 * moves from `running` once. The flow engine (`@tq/producer-sdk`) decides what to write.
 */
export class FlowStore {
  readonly #dynamodb: DynamoDBClient;
  readonly #tableName: string;
  readonly #ttlSeconds: number;

  constructor(options: { dynamodb: DynamoDBClient; tableName: string; ttlSeconds?: number }) {
    this.#dynamodb = options.dynamodb;
    this.#tableName = options.tableName;
    this.#ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  }

  #expiresAt(): AttributeValue {
    return { N: String(Math.floor(Date.now() / 1000) + this.#ttlSeconds) };
  }

  #key(flowId: string, step: string): Record<string, AttributeValue> {
    return { id: { S: flowId }, step: { S: step } };
  }

  /**
   * Writes a new flow: its item, its groups' counts, the tasks held for later and its task list.
   * Everything is in the table before the first task is sent, so no completion finds its group
   * missing. Throws when an item could not be written.
   */
  async create(flow: NewFlow): Promise<void> {
    await this.#putAll(newFlowItems(flow, this.#expiresAt()));
  }

  async #putAll(items: Record<string, AttributeValue>[]): Promise<void> {
    const size = AWS_LIMITS.dynamodb.maxBatchWriteItems;
    for (let start = 0; start < items.length; start += size) {
      const requests = items.slice(start, start + size).map((Item) => ({ PutRequest: { Item } }));
      let failure: unknown;
      await retryBatch(requests, {
        attempts: 6,
        backoff: { baseMs: 100, capMs: 2_000 },
        call: async (pending) => {
          const out = await this.#dynamodb.send(
            new BatchWriteItemCommand({ RequestItems: { [this.#tableName]: [...pending] } }),
          );
          const left = (out.UnprocessedItems?.[this.#tableName] ?? []) as typeof requests;
          return left.length === 0 ? { retry: left } : { retry: left, error: new Error('flow items left unprocessed') };
        },
        giveUp: (_left, error) => {
          failure = error;
        },
      });
      if (failure !== undefined) throw failure;
    }
  }

  /** The flow's item, or undefined when there is none (never created, or expired). */
  async get(flowId: string): Promise<(FlowRecord & { policies: Record<string, FlowFailurePolicy> }) | undefined> {
    const out = await this.#dynamodb.send(
      new GetItemCommand({ TableName: this.#tableName, Key: this.#key(flowId, FLOW_KEY), ConsistentRead: true }),
    );
    return out.Item === undefined ? undefined : flowRecord(flowId, out.Item);
  }

  /**
   * Records a node's outcome unless one is recorded: resolves `recorded`, or the outcome found
   * (the node ended before: a redelivery, or a crash before what follows was started).
   */
  async recordOutcome(
    flowId: string,
    path: string,
    outcome: FlowOutcome & { id?: string },
    leaseMs: number,
  ): Promise<{ recorded: true } | { recorded: false; existing: StoredOutcome }> {
    const data: Record<string, unknown> = { ...outcome, at: new Date().toISOString() };
    if (!outcome.ok) data.message = cut(outcome.message);
    try {
      await this.#dynamodb.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: {
            ...this.#key(flowId, outKey(path)),
            data: { S: JSON.stringify(data) },
            // The recorder holds the right to carry on from this node (see `claim`).
            claimedUntil: { N: String(Date.now() + leaseMs) },
            expiresAt: this.#expiresAt(),
          },
          ConditionExpression: 'attribute_not_exists(#id)',
          ExpressionAttributeNames: { '#id': 'id' },
        }),
      );
      return { recorded: true };
    } catch (error) {
      if (!conditionFailed(error)) throw error;
    }
    const out = await this.#dynamodb.send(
      new GetItemCommand({ TableName: this.#tableName, Key: this.#key(flowId, outKey(path)), ConsistentRead: true }),
    );
    if (out.Item === undefined) throw new Error(`the outcome of ${path} in flow ${flowId} vanished`);
    return { recorded: false, existing: storedOutcome(out.Item) };
  }

  /**
   * Notes that what follows a node (`out`) or a group (`join`) was started, so a redelivery does
   * not start it again.
   */
  async markContinued(flowId: string, kind: 'out' | 'join', path: string): Promise<void> {
    await this.#dynamodb.send(
      new UpdateItemCommand({
        TableName: this.#tableName,
        Key: this.#key(flowId, kind === 'out' ? outKey(path) : joinKey(path)),
        UpdateExpression: 'SET continued = :yes',
        ExpressionAttributeValues: { ':yes': { BOOL: true } },
      }),
    );
  }

  /**
   * Claims the right to start what follows a node (`out`) or a group (`join`) for `leaseMs`:
   * `claimed`, or `done` (it was started), or `busy` until the returned time (another holder's
   * lease runs). Two deliveries of one task that run side by side so never both start it; a
   * holder that died is taken over once its lease ran out.
   */
  async claim(
    flowId: string,
    kind: 'out' | 'join',
    path: string,
    leaseMs: number,
  ): Promise<{ kind: 'claimed' } | { kind: 'done' } | { kind: 'busy'; until: number }> {
    const key = this.#key(flowId, kind === 'out' ? outKey(path) : joinKey(path));
    const now = Date.now();
    try {
      await this.#dynamodb.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: key,
          UpdateExpression: 'SET claimedUntil = :until',
          ConditionExpression:
            'attribute_exists(#id) AND attribute_not_exists(continued) AND (attribute_not_exists(claimedUntil) OR claimedUntil < :now)',
          ExpressionAttributeNames: { '#id': 'id' },
          ExpressionAttributeValues: { ':until': { N: String(now + leaseMs) }, ':now': { N: String(now) } },
        }),
      );
      return { kind: 'claimed' };
    } catch (error) {
      if (!conditionFailed(error)) throw error;
    }
    const out = await this.#dynamodb.send(
      new GetItemCommand({ TableName: this.#tableName, Key: key, ConsistentRead: true }),
    );
    if (out.Item === undefined) throw new Error(`flow ${flowId} has no ${kind} record at ${path}`);
    if (out.Item.continued?.BOOL === true) return { kind: 'done' };
    return { kind: 'busy', until: Number(out.Item.claimedUntil?.N ?? now) };
  }

  /**
   * Counts child `index` (in shard `shard`) of the group at `path` as ended, once: its index joins
   * its shard's set of ended children in the same conditional update that lowers the shard's open
   * count, and the count that closes a shard counts the shard in the group's item alike, so a child
   * or a shard counted before is not counted again. `failed` marks the group failed first (a child
   * failed with `fail`), so whichever count closes the group sees it.
   */
  async count(flowId: string, path: string, index: number, shard: number, failed: boolean): Promise<GroupCount> {
    const group = this.#key(flowId, joinKey(path));
    if (failed) {
      await this.#dynamodb.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: group,
          UpdateExpression: 'SET failed = :yes',
          ExpressionAttributeValues: { ':yes': { BOOL: true } },
        }),
      );
    }
    const child = await this.#countIn(this.#key(flowId, shardKey(path, shard)), index);
    const result = { counted: child.counted, closed: false, then: false, failed, continued: false };
    if (!(child.open === 0 && child.last === index)) return result;
    const shards = await this.#countIn(group, shard);
    const item = shards.item;
    return {
      ...result,
      closed: shards.open === 0 && shards.last === shard,
      then: item.then?.BOOL === true,
      failed: item.failed?.BOOL === true,
      continued: item.continued?.BOOL === true,
    };
  }

  /**
   * Adds `member` to an item's set of ended members, lowering its open count, unless it is in the
   * set; `lastCounted` in the same update: once the open count is zero no update changes the item
   * again, so it names the member whose count closed it.
   */
  async #countIn(
    key: Record<string, AttributeValue>,
    member: number,
  ): Promise<{ counted: boolean; open: number; last: number | undefined; item: Record<string, AttributeValue> }> {
    const read = (item: Record<string, AttributeValue>, counted: boolean) => ({
      counted,
      open: Number(item.open?.N ?? 0),
      last: item.lastCounted?.N === undefined ? undefined : Number(item.lastCounted.N),
      item,
    });
    try {
      const out = await this.#dynamodb.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: key,
          UpdateExpression: 'ADD done :member, #open :minus SET lastCounted = :index',
          ConditionExpression: 'attribute_exists(#open) AND NOT contains(done, :index)',
          ExpressionAttributeNames: { '#open': 'open' },
          ExpressionAttributeValues: {
            ':member': { NS: [String(member)] },
            ':index': { N: String(member) },
            ':minus': { N: '-1' },
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return read(out.Attributes ?? {}, true);
    } catch (error) {
      if (!conditionFailed(error)) throw error;
    }
    const out = await this.#dynamodb.send(
      new GetItemCommand({ TableName: this.#tableName, Key: key, ConsistentRead: true }),
    );
    if (out.Item === undefined) throw new Error(`flow record ${key.step?.S} of ${key.id?.S} is missing (expired?)`);
    return read(out.Item, false);
  }

  /**
   * Moves the flow from `running` to `succeeded` or `failed`, once; resolves whether this call
   * moved it.
   */
  async finish(flowId: string, state: Exclude<FlowState, 'running'>, error?: FlowRecord['error']): Promise<boolean> {
    try {
      await this.#dynamodb.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: this.#key(flowId, FLOW_KEY),
          UpdateExpression: error
            ? 'SET #state = :state, finishedAt = :at, #error = :error'
            : 'SET #state = :state, finishedAt = :at',
          ConditionExpression: '#state = :running',
          ExpressionAttributeNames: { '#state': 'state', ...(error ? { '#error': 'error' } : {}) },
          ExpressionAttributeValues: {
            ':state': { S: state },
            ':running': { S: 'running' },
            ':at': { S: new Date().toISOString() },
            ...(error ? { ':error': { S: JSON.stringify({ ...error, message: cut(error.message) }) } } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  }

  /** Every item of a flow whose sort key starts with `prefix`, page after page. */
  #query(flowId: string, prefix: string): AsyncGenerator<Record<string, AttributeValue>> {
    return queryItems(this.#dynamodb, {
      TableName: this.#tableName,
      KeyConditionExpression: '#id = :id AND begins_with(#step, :prefix)',
      ExpressionAttributeNames: { '#id': 'id', '#step': 'step' },
      ExpressionAttributeValues: { ':id': { S: flowId }, ':prefix': { S: prefix } },
      ConsistentRead: true,
    });
  }

  /** The tasks held beneath a node (its path and deeper), to start those that begin it. */
  async held(flowId: string, path: string): Promise<HeldTask[]> {
    const found: HeldTask[] = [];
    for await (const item of this.#query(flowId, heldKey(path))) {
      const task = JSON.parse(item.data?.S ?? '{}') as HeldTask;
      // `~held#$.chain[1` also finds `$.chain[10]`: keep the node and what is beneath it.
      if (task.path === path || task.path.startsWith(`${path}.`)) found.push(task);
    }
    return found;
  }

  /**
   * The outcomes recorded at and beneath a path (`<group>.group`: the group's children), and the
   * sizes of the groups there: what `flowOutput` assembles an input from.
   */
  async outcomes(
    flowId: string,
    ref: string,
  ): Promise<{ outcomes: Map<string, StoredOutcome>; sizes: Map<string, number> }> {
    const base = ref.endsWith('.group') ? ref.slice(0, -'.group'.length) : ref;
    const outcomes = new Map<string, StoredOutcome>();
    const sizes = new Map<string, number>();
    const within = (path: string) => path === base || path.startsWith(`${base}.`);
    for await (const item of this.#query(flowId, outKey(base))) {
      const path = (item.step?.S ?? '').slice('~out#'.length);
      if (within(path)) outcomes.set(path, storedOutcome(item));
    }
    for await (const item of this.#query(flowId, joinKey(base))) {
      const path = (item.step?.S ?? '').slice('~join#'.length);
      if (within(path)) sizes.set(path, Number(item.total?.N ?? 0));
    }
    return { outcomes, sizes };
  }

  /** Everything recorded about a flow, for showing it: its item, task list, outcomes, groups and held tasks. */
  read(flowId: string): Promise<FlowView | undefined> {
    return readFlowView(flowId, this.#query(flowId, '~'));
  }

  /**
   * Counts `count` children more in the group at `path` (added at run time), in shards of their
   * own, before they are sent; resolves the first new child's index and the first new shard.
   */
  async addChildren(
    flowId: string,
    path: string,
    count: number,
    maxTotal: number,
  ): Promise<{ index: number; shard: number }> {
    const shards = Math.ceil(count / GROUP_SHARD_SIZE);
    let out: UpdateItemCommandOutput;
    try {
      out = await this.#dynamodb.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: this.#key(flowId, joinKey(path)),
          // The group's open count is of shards: it stays above zero while this task's shard runs.
          UpdateExpression: 'ADD #open :shards, #total :count, shards :shards',
          ConditionExpression: '#open > :zero AND #total <= :most',
          ExpressionAttributeNames: { '#open': 'open', '#total': 'total' },
          ExpressionAttributeValues: {
            ':count': { N: String(count) },
            ':shards': { N: String(shards) },
            ':zero': { N: '0' },
            ':most': { N: String(maxTotal - count) },
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
    } catch (error) {
      if (!conditionFailed(error)) throw error;
      throw new Error(
        `the group at ${path} in flow ${flowId} has ended, is missing, or would pass ${maxTotal} children`,
      );
    }
    const index = Number(out.Attributes?.total?.N ?? 0) - count;
    const shard = Number(out.Attributes?.shards?.N ?? 0) - shards;
    await this.#putAll(shardItems(flowId, path, shard, count, this.#expiresAt()));
    return { index, shard };
  }

  /** Adds entries to the flow's task list (children added at run time). */
  async listTasks(flowId: string, entries: readonly FlowTaskEntry[]): Promise<void> {
    const first = entries[0];
    if (first === undefined) return;
    await this.#putAll([
      {
        ...this.#key(flowId, `~tasks#+${first.path}`),
        data: { S: JSON.stringify(entries.map((entry) => [entry.path, entry.task, entry.id])) },
        expiresAt: this.#expiresAt(),
      },
    ]);
  }
}
