import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsClientSettings, readEnvironment, serviceEndpoint } from '@tq/contracts';
import { StatusReader } from './reader.js';
import { statusTableName } from './types.js';
import { StatusWriter, type StatusWriterOptions } from './writer.js';

/** Options of `createStatusStore`; each defaults from the environment. */
export interface StatusStoreOptions extends Partial<Omit<StatusWriterOptions, 'dynamodb' | 'tableName'>> {
  /** A configured client (then endpoint and region are its own). */
  dynamodb?: DynamoDBClient;
  /** DynamoDB endpoint; default `TQ_DYNAMODB_ENDPOINT`, then `TQ_ENDPOINT` (the local endpoint serves DynamoDB too), unset: AWS. */
  endpoint?: string;
  region?: string;
  /** Default `TQ_STATUS_TABLE`, then `<prefix>-task-status`. */
  tableName?: string;
  /** Default `TQ_PREFIX`, then `tq`. */
  prefix?: string;
}

/** A status table's writer and reader over one client. */
export interface StatusStore {
  readonly tableName: string;
  readonly dynamodb: DynamoDBClient;
  readonly writer: StatusWriter;
  readonly reader: StatusReader;
  /** Flushes the writer, then closes the client if the store created it. */
  close(): Promise<void>;
}

/** Reads an on/off switch (`on`, `true`, `1`, `yes` / `off`, `false`, `0`, `no`); unset: `fallback`. */
function readSwitch(name: string, fallback: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (value === undefined || value === '') return fallback;
  if (['on', 'true', '1', 'yes'].includes(value)) return true;
  if (['off', 'false', '0', 'no'].includes(value)) return false;
  throw new Error(`${name} is "${env[name]}", must be on or off`);
}

/** Whether `TQ_STATUS` turns recording on (`on`, `true`, `1`) or off (`off`, `false`, `0`); else `fallback`. */
export function statusEnabled(
  fallback: boolean,
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  return readSwitch('TQ_STATUS', fallback, env);
}

/** Whether `TQ_IDEMPOTENCY` turns the idempotency guard on or off; else `fallback` (the app's default). */
export function idempotencyEnabled(
  fallback: boolean,
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  return readSwitch('TQ_IDEMPOTENCY', fallback, env);
}

/** Builds the status store from options and the environment. Makes no call until used. */
export function createStatusStore(options: StatusStoreOptions = {}): StatusStore {
  const env = readEnvironment();
  const endpoint = options.endpoint ?? serviceEndpoint('dynamodb', env);
  const owned = options.dynamodb === undefined;
  const dynamodb =
    options.dynamodb ??
    new DynamoDBClient({
      ...awsClientSettings({ ...env, endpoint, ...(options.region ? { region: options.region } : {}) }),
      cacheMiddleware: true,
    } as never);
  const tableName = options.tableName ?? (process.env.TQ_STATUS_TABLE || statusTableName(options.prefix ?? env.prefix));
  const { dynamodb: _d, endpoint: _e, region: _r, tableName: _t, prefix: _p, ...writerOptions } = options;
  const writer = new StatusWriter({ ...writerOptions, dynamodb, tableName });
  const reader = new StatusReader({ dynamodb, tableName });
  return {
    tableName,
    dynamodb,
    writer,
    reader,
    async close() {
      await writer.flush();
      if (owned) dynamodb.destroy();
    },
  };
}
