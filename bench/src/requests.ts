// AWS requests per task on each path a task can take, counted by the local endpoint by service and
// action, and what a million tasks cost at list prices. Counts, not times: the same on any machine
// within the batching noise the README states, so a test can hold them.
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createProducer, type Producer } from '@tq/producer-sdk';
import { createIdempotencyStore, createStatusStore, ensureIdempotencyTable, ensureStatusTable } from '@tq/status';
import { type LocalEndpoint, type RequestCounts, startLocalEndpoint, uniqueName } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { createWorker } from '@tq/worker';
import { pino } from 'pino';

/** One way a task travels, from the producer's call to the worker's delete. */
export interface RequestPath {
  name: string;
  route: 'topic' | 'queue';
  /** `sendBatch` (10 per call) instead of one `send` per task. */
  batch?: boolean;
  status?: boolean;
  idempotency?: boolean;
  /** Payloads past the message limit: the envelope goes by S3 claim check. */
  claimCheck?: boolean;
  /** One flow: a chord of every task but the last, which is its `then` (needs `status`: the flow's table). */
  chord?: boolean;
}

/** The paths the README's table lists. */
export const REQUEST_PATHS: readonly RequestPath[] = [
  { name: 'direct SQS, send', route: 'queue' },
  { name: 'direct SQS, sendBatch', route: 'queue', batch: true },
  { name: 'SNS → SQS, send', route: 'topic' },
  { name: 'SNS → SQS, sendBatch', route: 'topic', batch: true },
  { name: 'direct SQS, sendBatch, with status', route: 'queue', batch: true, status: true },
  { name: 'direct SQS, sendBatch, with idempotency', route: 'queue', batch: true, idempotency: true },
  { name: 'SNS → SQS, send, 300 KB by claim check', route: 'topic', claimCheck: true },
  { name: 'SNS → SQS, sendBatch, with status', route: 'topic', batch: true, status: true },
  { name: 'SNS → SQS, one chord (flow), with status', route: 'topic', status: true, chord: true },
];

/**
 * US East (N. Virginia) list prices in USD per million requests, December 2026, past the free
 * tiers: SQS standard $0.40 (a request per 64 KiB chunk), SNS publish $0.50 (delivery to SQS is
 * free), S3 Standard PUT/COPY/POST/LIST $5.00 and GET/HEAD $0.40, DynamoDB on-demand $0.625 per
 * million write and $0.125 per million read request units (an item of up to 1 KiB is one unit; a
 * batch write pays per item), EventBridge Scheduler $1.00 per million invocations.
 */
export const PRICES_PER_MILLION = {
  sqs: 0.4,
  sns: 0.5,
  s3Write: 5,
  s3Read: 0.4,
  dynamodbWrite: 0.625,
  dynamodbRead: 0.125,
} as const;

/** What one path cost: requests by `service:Action` per 1,000 tasks, and dollars per million tasks. */
export interface PathCost {
  path: string;
  tasks: number;
  perThousand: RequestCounts;
  /** All requests per 1,000 tasks. */
  totalPerThousand: number;
  /** DynamoDB items written per task (a batch write pays per item, not per call). */
  dynamodbItemsPerTask: number;
  dollarsPerMillion: number;
  /** From the first send to the last task's end. */
  ms: number;
}

const silent = pino({ level: 'silent' });
const email = (i: number, text = 'x') => ({ to: ['ada@example.com'], subject: `task ${i}`, text });

/** Runs `tasks` tasks along `path` against a fresh local endpoint and counts the requests they made. */
export async function measurePath(path: RequestPath, tasks: number): Promise<PathCost> {
  const endpoint = await startLocalEndpoint();
  const prefix = uniqueName('req').toLowerCase();
  const bucket = `${prefix}-artifacts`.slice(0, 63);
  try {
    const status = path.status ? createStatusStore({ endpoint: endpoint.endpoint, prefix }) : undefined;
    const idempotency = path.idempotency ? createIdempotencyStore({ endpoint: endpoint.endpoint, prefix }) : undefined;
    await setUp(endpoint, prefix, bucket, status, idempotency);
    endpoint.requests.reset();
    const producer = createProducer({
      endpoint: endpoint.endpoint,
      prefix,
      ...(path.claimCheck ? { largePayloads: { bucket } } : {}),
      ...(status ? { status } : {}),
    });
    // Past SNS's 256 KiB: every one goes by claim check.
    const text = path.claimCheck ? 'x'.repeat(300_000) : 'x';
    const started = performance.now();
    await send(producer, path, tasks, text);
    await producer.close();
    const worker = createWorker({
      task: 'send_email',
      endpoint: endpoint.endpoint,
      prefix,
      logger: silent,
      handleSignals: false,
      waitTimeSeconds: 1,
      concurrency: 10,
      s3Allow: [bucket],
      ...(status ? { status } : {}),
      ...(idempotency ? { idempotency: { store: idempotency } } : {}),
      handler: () => undefined,
    });
    let done = 0;
    const finished = new Promise<void>((resolve) => {
      worker.on('succeeded', () => {
        done += 1;
        if (done === tasks) resolve();
      });
    });
    await worker.start();
    await finished;
    const ms = performance.now() - started;
    await worker.stop();
    await status?.writer.flush();
    const counts = endpoint.requests.counts();
    const items =
      (counts['dynamodb:PutItem'] ?? 0) + (counts['dynamodb:UpdateItem'] ?? 0) + (status?.writer.stats.written ?? 0);
    await status?.close();
    idempotency?.close();
    return { ...cost(path.name, tasks, counts, items), ms };
  } finally {
    await endpoint.stop();
  }
}

async function setUp(
  endpoint: LocalEndpoint,
  prefix: string,
  bucket: string,
  status: ReturnType<typeof createStatusStore> | undefined,
  idempotency: ReturnType<typeof createIdempotencyStore> | undefined,
): Promise<void> {
  const clients = {
    sqs: new SQSClient(endpoint.clientConfig),
    sns: new SNSClient(endpoint.clientConfig),
    s3: new S3Client(endpoint.clientConfig),
  };
  await createProvisioner({ ...clients, topology: defineTopology({ prefix, bucket }) }).apply();
  for (const client of Object.values(clients)) client.destroy();
  if (status) await ensureStatusTable(status.dynamodb, status.tableName);
  if (idempotency) await ensureIdempotencyTable(idempotency.dynamodb, idempotency.tableName);
}

async function send(producer: Producer, path: RequestPath, tasks: number, text: string): Promise<void> {
  if (path.chord) {
    const children = Array.from({ length: tasks - 1 }, (_, i) => ({
      task: 'send_email' as const,
      payload: email(i, text),
    }));
    const then = { task: 'send_email' as const, payload: email(tasks, text) };
    await producer.flow({ group: children, then });
    return;
  }
  if (!path.batch) {
    for (let i = 0; i < tasks; i += 1) await producer.send('send_email', email(i, text), { route: path.route });
    return;
  }
  for (let start = 0; start < tasks; start += 10) {
    const items = Array.from({ length: Math.min(10, tasks - start) }, (_, i) => ({
      task: 'send_email' as const,
      payload: email(start + i, text),
      options: { route: path.route },
    }));
    const results = await producer.sendBatch(items);
    if (results.some((result) => !result.ok)) throw new Error(`${path.name}: a batch item was not sent`);
  }
}

/** Requests per 1,000 tasks and the list price of a million tasks. */
export function cost(path: string, tasks: number, counts: RequestCounts, dynamodbItems: number): Omit<PathCost, 'ms'> {
  const perThousand: RequestCounts = {};
  let dollars = 0;
  for (const [key, count] of Object.entries(counts).sort(([a], [b]) => a.localeCompare(b))) {
    perThousand[key] = Math.round((count / tasks) * 1000 * 10) / 10;
    const perTask = count / tasks;
    const [service, action = ''] = key.split(':');
    if (service === 'sqs') dollars += perTask * PRICES_PER_MILLION.sqs;
    else if (service === 'sns') dollars += perTask * PRICES_PER_MILLION.sns;
    else if (service === 's3')
      dollars += perTask * (/^(Get|Head)/.test(action) ? PRICES_PER_MILLION.s3Read : PRICES_PER_MILLION.s3Write);
    else if (service === 'dynamodb' && /^(Get|Query|Scan|BatchGet)/.test(action))
      dollars += perTask * PRICES_PER_MILLION.dynamodbRead;
  }
  dollars += (dynamodbItems / tasks) * PRICES_PER_MILLION.dynamodbWrite;
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
  return {
    path,
    tasks,
    perThousand,
    totalPerThousand: Math.round((total / tasks) * 1000 * 10) / 10,
    dynamodbItemsPerTask: Math.round((dynamodbItems / tasks) * 100) / 100,
    dollarsPerMillion: Math.round(dollars * 100) / 100,
  };
}

/** The README's table: one row per path. */
export function renderCosts(costs: readonly Omit<PathCost, 'ms'>[]): string {
  const lines = [
    '| path | requests per 1,000 tasks | by action (per 1,000 tasks) | DynamoDB items per task | USD per million tasks |',
    '| --- | ---: | --- | ---: | ---: |',
  ];
  for (const row of costs) {
    const actions = Object.entries(row.perThousand)
      .map(([key, count]) => `${key} ${count}`)
      .join(', ');
    lines.push(
      `| ${row.path} | ${row.totalPerThousand} | ${actions} | ${row.dynamodbItemsPerTask} | ${row.dollarsPerMillion.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * A chord's cost in time against plain tasks: `rounds` pairs of a chord of `children` no-op
 * children plus its `then`, and as many plain tasks plus one sent by `sendBatch`, both with status
 * (a flow keeps its state in the status table), each on a fresh endpoint, in alternating order.
 * Medians of the pairs; the overhead per child is the difference over `children`.
 */
export async function chordOverhead(children: number, rounds: number) {
  const chord = REQUEST_PATHS.find((path) => path.chord) as RequestPath;
  const plain = REQUEST_PATHS.find((path) => path.route === 'topic' && path.batch && path.status) as RequestPath;
  const chordMs: number[] = [];
  const plainMs: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? [chord, plain] : [plain, chord];
    for (const path of order) {
      const { ms } = await measurePath(path, children + 1);
      (path === chord ? chordMs : plainMs).push(ms);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  return {
    chordMs: median(chordMs),
    plainMs: median(plainMs),
    overheadPerChildMs: (median(chordMs) - median(plainMs)) / children,
  };
}
