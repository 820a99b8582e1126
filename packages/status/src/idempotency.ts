import { createHash, randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { awsClientSettings, readEnvironment, serviceEndpoint } from '@tq/contracts';
import { fromAttribute } from './attributes.js';
import { ensureTable } from './table.js';
import { DEFAULT_TTL_SECONDS, MAX_RESULT_BYTES } from './types.js';

/** The idempotency table's name for a prefix: `<prefix>-idempotency`. */
export function idempotencyTableName(prefix: string): string {
  return `${prefix}-idempotency`;
}

/** The attribute DynamoDB's TTL deletes idempotency records by (seconds since the epoch). */
export const IDEMPOTENCY_TTL_ATTRIBUTE = 'expiresAt';

/**
 * The idempotency table: one item per key (`key`, a string: `<task>#<idempotency key or task
 * id>`), TTL on `expiresAt`, on-demand capacity. The AWS deploy's constructs describe the same.
 */
export function idempotencyTableDefinition(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [{ AttributeName: 'key', AttributeType: 'S' as const }],
    KeySchema: [{ AttributeName: 'key', KeyType: 'HASH' as const }],
  };
}

/** Creates the idempotency table when missing and turns on its TTL. Idempotent. */
export function ensureIdempotencyTable(dynamodb: DynamoDBClient, tableName: string): Promise<'created' | 'exists'> {
  return ensureTable(dynamodb, idempotencyTableDefinition(tableName), IDEMPOTENCY_TTL_ATTRIBUTE);
}

/** A JSON value with its object keys sorted, so equal payloads hash equally whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${canonical(member)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** SHA-256 of a payload's canonical JSON (hex): what tells a reused key from a redelivery. */
export function payloadHash(payload: unknown): string {
  return createHash('sha256').update(canonical(payload)).digest('hex');
}

/** A key this store holds the lease of: what `renew`, `complete` and `release` need. */
export interface Claim {
  readonly key: string;
  /** Random per claim: a holder whose lease was taken over can no longer write. */
  readonly token: string;
  /** When the lease runs out unless renewed (ms since the epoch). */
  leaseUntil: number;
}

/**
 * What claiming a key found:
 * - `claimed`: nobody held it (or the last holder's lease ran out): run the effect;
 * - `done`: the effect already ran for this key: `result` is what it returned;
 * - `busy`: another holder's lease runs until `leaseUntil`: try again after it;
 * - `reused`: the key was used for a different payload (`hash` differs): never run.
 */
export type ClaimOutcome =
  | { kind: 'claimed'; claim: Claim; takenOver: boolean }
  | { kind: 'done'; result: unknown; completedAt: string }
  | { kind: 'busy'; leaseUntil: number }
  | { kind: 'reused'; completedAt: string | undefined };

/** What `createIdempotencyStore` takes; each defaults from the environment. */
export interface IdempotencyStoreOptions {
  /** A configured client (then endpoint and region are its own). */
  dynamodb?: DynamoDBClient;
  /** Default `TQ_DYNAMODB_ENDPOINT`, then `TQ_ENDPOINT`, unset: AWS. */
  endpoint?: string;
  region?: string;
  /** Default `TQ_IDEMPOTENCY_TABLE`, then `<prefix>-idempotency`. */
  tableName?: string;
  /** Default `TQ_PREFIX`, then `tq`. */
  prefix?: string;
  /** How long a completed key keeps its result (and stops duplicates). Default 14 days, as long as SQS keeps a message. */
  ttlSeconds?: number;
}

/**
 * The records of an idempotency guard in DynamoDB: a key is claimed with a conditional put that
 * carries a lease, renewed while the effect runs, marked done with the effect's result, or
 * released when the effect failed. Every write is conditional on the claim's token, so a holder
 * whose lease ran out and was taken over cannot overwrite the new holder's record.
 */
export class IdempotencyStore {
  readonly tableName: string;
  readonly dynamodb: DynamoDBClient;
  readonly ttlSeconds: number;
  readonly #owned: boolean;

  constructor(options: IdempotencyStoreOptions = {}) {
    const env = readEnvironment();
    const endpoint = options.endpoint ?? serviceEndpoint('dynamodb', env);
    this.#owned = options.dynamodb === undefined;
    this.dynamodb =
      options.dynamodb ??
      new DynamoDBClient(
        awsClientSettings({ ...env, endpoint, ...(options.region ? { region: options.region } : {}) }),
      );
    this.tableName =
      options.tableName ?? (process.env.TQ_IDEMPOTENCY_TABLE || idempotencyTableName(options.prefix ?? env.prefix));
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  }

  /**
   * Claims `key` for `leaseMs`: one conditional `PutItem` that succeeds when the key is new, its
   * record expired, or its holder's lease ran out without completing. Otherwise reads the record
   * (consistently) to say why not. Throws what DynamoDB throws (the caller decides what an
   * outage means).
   */
  async claim(key: string, hash: string, leaseMs: number): Promise<ClaimOutcome> {
    const now = Date.now();
    const claim: Claim = { key, token: randomUUID(), leaseUntil: now + leaseMs };
    try {
      await this.dynamodb.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            key: { S: key },
            state: { S: 'running' },
            token: { S: claim.token },
            hash: { S: hash },
            leaseUntil: { N: String(claim.leaseUntil) },
            claimedAt: { S: new Date(now).toISOString() },
            [IDEMPOTENCY_TTL_ATTRIBUTE]: { N: String(Math.ceil(now / 1000) + this.ttlSeconds) },
          },
          ConditionExpression:
            'attribute_not_exists(#key) OR #expires < :nowSeconds OR (#state = :running AND #lease < :now)',
          ExpressionAttributeNames: {
            '#key': 'key',
            '#expires': IDEMPOTENCY_TTL_ATTRIBUTE,
            '#state': 'state',
            '#lease': 'leaseUntil',
          },
          ExpressionAttributeValues: {
            ':nowSeconds': { N: String(Math.floor(now / 1000)) },
            ':now': { N: String(now) },
            ':running': { S: 'running' },
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kind: 'claimed', claim, takenOver: false };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // DynamoDB returns the record that failed the condition; endpoints that do not, get read.
      const item = error.Item ?? (await this.#read(key));
      if (item === undefined) return this.claim(key, hash, leaseMs); // deleted between the two calls
      return this.#explain(item, hash);
    }
  }

  #explain(item: Record<string, AttributeValue>, hash: string): ClaimOutcome {
    const state = item.state?.S;
    const completedAt = item.completedAt?.S;
    if (item.hash?.S !== undefined && item.hash.S !== hash) return { kind: 'reused', completedAt };
    if (state === 'done') {
      const raw = item.result?.S;
      return { kind: 'done', result: raw === undefined ? undefined : JSON.parse(raw), completedAt: completedAt ?? '' };
    }
    return { kind: 'busy', leaseUntil: Number(item.leaseUntil?.N ?? 0) };
  }

  async #read(key: string): Promise<Record<string, AttributeValue> | undefined> {
    const { Item } = await this.dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: { key: { S: key } }, ConsistentRead: true }),
    );
    return Item;
  }

  /** Extends a held lease to `leaseMs` from now; false when it was lost (taken over or released). */
  async renew(claim: Claim, leaseMs: number): Promise<boolean> {
    const leaseUntil = Date.now() + leaseMs;
    const held = await this.#conditional(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { key: { S: claim.key } },
        UpdateExpression: 'SET #lease = :lease',
        ConditionExpression: '#token = :token AND #state = :running',
        ExpressionAttributeNames: { '#lease': 'leaseUntil', '#token': 'token', '#state': 'state' },
        ExpressionAttributeValues: {
          ':lease': { N: String(leaseUntil) },
          ':token': { S: claim.token },
          ':running': { S: 'running' },
        },
      }),
    );
    if (held) claim.leaseUntil = leaseUntil;
    return held;
  }

  /**
   * Marks the key done with the effect's result (JSON, at most `MAX_RESULT_BYTES`; a larger one is
   * stored as `{ truncated: true }`): every later claim of the key answers `done` with it until
   * the record expires. False when the lease had been taken over (then the other holder's
   * outcome stands).
   */
  async complete(claim: Claim, result: unknown): Promise<boolean> {
    let json = result === undefined ? undefined : JSON.stringify(result);
    if (json !== undefined && Buffer.byteLength(json) > MAX_RESULT_BYTES) json = JSON.stringify({ truncated: true });
    const now = Date.now();
    return await this.#conditional(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { key: { S: claim.key } },
        UpdateExpression:
          json === undefined
            ? 'SET #state = :done, #completed = :completed, #expires = :expires REMOVE #lease'
            : 'SET #state = :done, #completed = :completed, #expires = :expires, #result = :result REMOVE #lease',
        ConditionExpression: '#token = :token',
        ExpressionAttributeNames: {
          '#state': 'state',
          '#completed': 'completedAt',
          '#expires': IDEMPOTENCY_TTL_ATTRIBUTE,
          '#lease': 'leaseUntil',
          '#token': 'token',
          ...(json === undefined ? {} : { '#result': 'result' }),
        },
        ExpressionAttributeValues: {
          ':done': { S: 'done' },
          ':completed': { S: new Date(now).toISOString() },
          ':expires': { N: String(Math.ceil(now / 1000) + this.ttlSeconds) },
          ':token': { S: claim.token },
          ...(json === undefined ? {} : { ':result': { S: json } }),
        },
      }),
    );
  }

  /** Gives a claim up (the effect failed and will be retried): the next claim of the key runs it. */
  async release(claim: Claim): Promise<boolean> {
    return await this.#conditional(
      new DeleteItemCommand({
        TableName: this.tableName,
        Key: { key: { S: claim.key } },
        ConditionExpression: '#token = :token AND #state = :running',
        ExpressionAttributeNames: { '#token': 'token', '#state': 'state' },
        ExpressionAttributeValues: { ':token': { S: claim.token }, ':running': { S: 'running' } },
      }),
    );
  }

  /** The record of a key as stored (for tools and tests): state, lease, result. */
  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const item = await this.#read(key);
    if (item === undefined) return undefined;
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(item)) out[name] = fromAttribute(value);
    if (typeof out.result === 'string') out.result = JSON.parse(out.result);
    return out;
  }

  async #conditional(command: UpdateItemCommand | DeleteItemCommand): Promise<boolean> {
    try {
      await this.dynamodb.send(command as never);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Closes the client if the store created it. */
  close(): void {
    if (this.#owned) this.dynamodb.destroy();
  }
}

/** Builds the idempotency store from options and the environment. Makes no call until used. */
export function createIdempotencyStore(options: IdempotencyStoreOptions = {}): IdempotencyStore {
  return new IdempotencyStore(options);
}
