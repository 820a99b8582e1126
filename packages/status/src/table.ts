import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { classifyAwsError, probeService, type ServiceProbe } from '@tq/aws';
import { awsServiceSettings, readEnvironment, serviceEndpoint } from '@tq/contracts';

/** The attribute DynamoDB's TTL deletes items by (seconds since the epoch). */
export const STATUS_TTL_ATTRIBUTE = 'expiresAt';

/**
 * The status table as it should exist: one item per group of steps (key `id` + `step`, so a task's
 * items are one `Query`), and per task type index items under `#recent#<task>` that list its
 * finished tasks (what `recent()` reads; no secondary index); TTL on `expiresAt`; on-demand
 * capacity. The AWS deploy's constructs describe the same table.
 */
export function statusTableDefinition(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: 'id', AttributeType: 'S' as const },
      { AttributeName: 'step', AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: 'id', KeyType: 'HASH' as const },
      { AttributeName: 'step', KeyType: 'RANGE' as const },
    ],
  };
}

/**
 * Creates the status table when it does not exist and turns on its TTL. Idempotent; resolves
 * with what it did. Endpoints without `UpdateTimeToLive` (the local one) keep items until deleted:
 * readers skip expired items either way.
 */
export function ensureStatusTable(dynamodb: DynamoDBClient, tableName: string): Promise<'created' | 'exists'> {
  return ensureTable(dynamodb, statusTableDefinition(tableName), STATUS_TTL_ATTRIBUTE);
}

/** How long a probe waits for its answer. */
export const PROBE_TIMEOUT_MS = 5_000;

/**
 * Whether `dynamodb`'s endpoint serves DynamoDB (one `ListTables` call; see `probeService`):
 * `missing` on an SQS/SNS/S3 emulator without it, such as ElasticMQ or plain fauxqs. Without a
 * client, asks the endpoint the environment names (`TQ_DYNAMODB_ENDPOINT`, else `TQ_ENDPOINT`);
 * real AWS serves DynamoDB and is not asked.
 */
export async function probeDynamoDb(dynamodb?: DynamoDBClient): Promise<ServiceProbe> {
  if (dynamodb !== undefined) {
    // A frozen endpoint must not hold a worker's start: a probe that does not answer is `unknown`.
    const abortSignal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
    return probeService(() => dynamodb.send(new ListTablesCommand({ Limit: 1 }), { abortSignal }));
  }
  const env = readEnvironment();
  if (serviceEndpoint('dynamodb', env) === undefined) return 'served';
  const client = new DynamoDBClient({ ...awsServiceSettings('dynamodb', env), maxAttempts: 2 });
  try {
    return await probeDynamoDb(client);
  } finally {
    client.destroy();
  }
}

/** Creates a table from its definition when it does not exist, then turns on TTL on `ttlAttribute`. */
export async function ensureTable(
  dynamodb: DynamoDBClient,
  definition: ConstructorParameters<typeof CreateTableCommand>[0] & { TableName: string },
  ttlAttribute: string,
): Promise<'created' | 'exists'> {
  const tableName = definition.TableName;
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    return 'exists';
  } catch (error) {
    if (classifyAwsError(error) !== 'not-found') throw error;
  }
  try {
    await dynamodb.send(new CreateTableCommand(definition));
  } catch (error) {
    // Another process created it between the two calls.
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
    return 'exists';
  }
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 300, minDelay: 1 }, { TableName: tableName });
  try {
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
      }),
    );
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (!/UnknownOperation|NotImplemented/i.test(name) && classifyAwsError(error) !== 'invalid') throw error;
  }
  return 'created';
}
