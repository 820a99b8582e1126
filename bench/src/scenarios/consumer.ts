import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, SQS, SQSClient } from '@aws-sdk/client-sqs';
import { createTask, encodeMessageBody } from '@tq/contracts';
import { createStatusStore, ensureStatusTable } from '@tq/status';
import { type AwsClientConfig, type EndpointProcess, startEndpointProcess } from '@tq/testing';
import { createWorker } from '@tq/worker';
import { pino } from 'pino';
import { Consumer } from 'sqs-consumer';
import { Squiss } from 'squiss-ts';
import { createQueues, deleteQueues, pinProcess, preload, remaining, type Scenario } from '../lib.js';

/** The contender that records task status (`@tq/status`) on the endpoint's DynamoDB. */
const STATUS_ON = 'tq worker (status on)';
const STATUS_TABLE = 'bench-task-status';
/**
 * The bound of status on: a worker that records nothing while another process puts the same
 * items into the same store as the tasks finish (`store-load.ts`). What is left of the gap to the
 * plain worker is the store's CPU on the shared cores, which no writer can save.
 */
const STORE_LOAD = 'tq worker (store load only)';
const STORE_LOAD_SCRIPT = fileURLToPath(new URL('../store-load.js', import.meta.url));

interface Config {
  clientConfig: AwsClientConfig;
  queueUrl: string;
  dlqUrl: string;
  count: number;
  handlerMs: number;
  concurrency: number;
  /** The status contender's DynamoDB: an endpoint process of its own, as DynamoDB is its own service on AWS. */
  statusEndpoint?: string;
}

/** Status endpoints by URL, started in `prepare` and stopped in `verify` (both in the parent). */
const statusEndpoints = new Map<string, EndpointProcess>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `count` messages were handled; rejects if the run stalls for 30 s. */
function counter(count: number) {
  let handled = 0;
  let last = Date.now();
  let resolveDone: () => void = () => {};
  let rejectDone: (error: Error) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const watchdog = setInterval(() => {
    if (Date.now() - last > 30_000) rejectDone(new Error(`stalled at ${handled} of ${count}`));
  }, 1000);
  return {
    done: done.finally(() => clearInterval(watchdog)),
    hit() {
      handled += 1;
      last = Date.now();
      if (handled === count) resolveDone();
    },
  };
}

/** One contender's run: the clients and counters every contender gets alike. */
interface Run {
  config: Config;
  sqs: SQSClient;
  handle: () => Promise<unknown>;
  progress: ReturnType<typeof counter>;
  started: number;
}

/** tq's worker: its own clients or an injected one, status on or off, or the store's load beside it. */
async function runTqWorker(contender: string, run: Run): Promise<{ value: number }> {
  const { config, sqs, handle, progress, started } = run;
  // Status on: every task's steps go to the status table on the endpoint's DynamoDB; the
  // run ends when the last write landed, so the writes' cost is inside the measured time.
  const status =
    contender === STATUS_ON
      ? createStatusStore({ endpoint: config.statusEndpoint as string, tableName: STATUS_TABLE })
      : undefined;
  const worker = createWorker({
    task: 'send_email',
    // As the worker apps run it: the worker makes its own clients from the endpoint
    // setting (with status on too, so the two differ by status alone). An injected
    // client is used as configured (the SDK's defaults here).
    ...(contender === 'tq worker' || contender === STATUS_ON || contender === STORE_LOAD
      ? { endpoint: config.clientConfig.endpoint, region: config.clientConfig.region }
      : { sqs }),
    queueUrl: config.queueUrl,
    deadLetterQueueUrl: config.dlqUrl,
    concurrency: config.concurrency,
    waitTimeSeconds: 1,
    logger: pino({ level: 'silent' }),
    handleSignals: false,
    ...(status ? { status } : {}),
    handler: async () => {
      await handle();
    },
  });
  let succeeded = 0;
  worker.on('succeeded', () => {
    succeeded += 1;
    progress.hit();
  });
  // Store load only: the side process follows the count of finished tasks, every 10 ms.
  const load =
    contender === STORE_LOAD
      ? fork(STORE_LOAD_SCRIPT, [config.statusEndpoint as string, STATUS_TABLE], { execArgv: [] })
      : undefined;
  // Pinned (`--pin`): the store's client stands in for a service, so it runs on the servers' cores.
  if (load?.pid && process.env.BENCH_SERVER_CORES) pinProcess(load.pid, process.env.BENCH_SERVER_CORES);
  const follow = load ? setInterval(() => load.send({ tasks: succeeded }), 10) : undefined;
  await worker.start();
  await progress.done;
  if (load) {
    clearInterval(follow);
    const loaded = new Promise((resolve, reject) => {
      load.once('message', resolve);
      load.once('exit', (code) => reject(new Error(`store load exited (${code}) before it was done`)));
    });
    load.send({ tasks: succeeded, end: true });
    await loaded;
  }
  const handled = performance.now();
  const backlog = status ? (status.writer as unknown as { pendingCount?: number }).pendingCount : undefined;
  await status?.writer.flush();
  const seconds = (performance.now() - started) / 1000;
  if (process.env.BENCH_DEBUG && status) {
    console.error(
      `status: tasks done at ${((handled - started) / 1000).toFixed(2)} s, last item written at ${seconds.toFixed(2)} s, ${backlog} pending at the last task`,
    );
  }
  if (status && (status.writer.stats.failed > 0 || status.writer.stats.dropped > 0)) {
    throw new Error(`status writes lost: ${JSON.stringify(status.writer.stats)}`);
  }
  await status?.close();
  await worker.stop();
  return { value: config.count / seconds };
}

/** sqs-consumer: one poller, each batch of 10 run to completion. */
async function runSqsConsumer(run: Run): Promise<{ value: number }> {
  const { config, sqs, handle, progress, started } = run;
  const consumer = Consumer.create({
    queueUrl: config.queueUrl,
    sqs,
    batchSize: 10,
    waitTimeSeconds: 1,
    pollingWaitTimeMs: 0,
    // stop() then waits for the last batch's deletes.
    pollingCompleteWaitTimeMs: 10_000,
    // The local queue URLs name a host that is not the endpoint; use the client's endpoint.
    useQueueUrlAsEndpoint: false,
    handleMessage: async (message: Message) => {
      await handle();
      progress.hit();
      return message;
    },
  });
  consumer.on('error', (error) => console.error('sqs-consumer error:', error.message));
  if (process.env.BENCH_DEBUG) {
    for (const event of ['started', 'stopped', 'empty', 'response_processed'] as const) {
      consumer.on(event, () => console.error('sqs-consumer', event));
    }
  }
  consumer.on('processing_error', (error) => console.error('sqs-consumer processing error:', error.message));
  consumer.start();
  await progress.done;
  const seconds = (performance.now() - started) / 1000;
  const stopped = new Promise((resolve) => consumer.once('stopped', resolve));
  consumer.stop({ abort: false });
  await stopped;
  return { value: config.count / seconds };
}

/** squiss-ts with tq's concurrency as `maxInFlight`. */
async function runSquiss(run: Run): Promise<{ value: number }> {
  const { config, handle, progress, started } = run;
  const squiss = new Squiss({
    queueUrl: config.queueUrl,
    SQS: new SQS(config.clientConfig),
    maxInFlight: config.concurrency,
    receiveBatchSize: 10,
    deleteBatchSize: 10,
    receiveWaitTimeSecs: 1,
    bodyFormat: 'plain',
  });
  let deleted = 0;
  const allDeleted = new Promise<void>((resolve) => {
    squiss.on('deleted', () => {
      deleted += 1;
      if (deleted === config.count) resolve();
    });
  });
  squiss.on('message', (message) => {
    void handle().then(() => {
      progress.hit();
      message.del();
    });
  });
  await squiss.start();
  await progress.done;
  const seconds = (performance.now() - started) / 1000;
  await Promise.race([allDeleted, sleep(10_000)]);
  await squiss.stop(false, 10_000);
  return { value: config.count / seconds };
}

/** The raw loop: tq's number of pollers, each receive → handle the batch → delete the batch. */
async function runRawLoop(run: Run): Promise<{ value: number }> {
  const { config, sqs, handle, progress, started } = run;
  // The raw loop: tq's number of pollers, each receive → handle the batch → delete the batch.
  const pollers = Math.ceil(config.concurrency / 10);
  let finished = false;
  void progress.done.then(() => {
    finished = true;
  });
  const loops = Promise.all(
    Array.from({ length: pollers }, async () => {
      while (!finished) {
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: config.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) continue;
        await Promise.all(messages.map(() => handle()));
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: config.queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        for (const _ of messages) progress.hit();
      }
    }),
  );
  await progress.done;
  const seconds = (performance.now() - started) / 1000;
  await loops;
  return { value: config.count / seconds };
}

/**
 * Consumer throughput: a queue preloaded with tasks; each contender runs the same handler with the
 * same concurrency (tq `concurrency`, squiss-ts `maxInFlight`; sqs-consumer has one poller and
 * runs each batch of 10 to completion by design; the raw loop has tq's number of pollers, each
 * receiving 10, running them, deleting them in one batch). Measured from start to the last
 * handler's completion; the queue must be empty afterwards.
 */
function consumerScenario(
  name: string,
  title: string,
  handlerMs: number,
  count: number,
  quickCount: number,
  rounds: number,
  extraContenders: readonly string[] = [],
) {
  const scenario: Scenario<Config> = {
    name,
    title,
    unit: 'msgs/s',
    contenders: ['tq worker', ...extraContenders, 'sqs-consumer', 'squiss-ts', 'raw receive/delete'],
    reference: 'raw receive/delete',
    referenceNote: "a bare receive → handle → DeleteMessageBatch loop with tq's number of pollers",
    rounds: (context) => (context.quick ? 1 : rounds),
    // The short runs are where the endpoint is the limit; the 50 ms handler's runs are not.
    warmUp: handlerMs === 0,
    async prepare(context, contender) {
      const { queueUrl, dlqUrl } = await createQueues(context.clientConfig, name);
      const total = context.quick ? quickCount : count;
      const bodies = Array.from({ length: total }, (_, i) =>
        encodeMessageBody(createTask('send_email', { to: [`u${i}@example.com`], subject: `n${i}`, text: 'x' })),
      );
      await preload(context.clientConfig, queueUrl, bodies);
      const config: Config = {
        clientConfig: context.clientConfig,
        queueUrl,
        dlqUrl,
        count: total,
        handlerMs,
        concurrency: 50,
      };
      if (contender === STATUS_ON || contender === STORE_LOAD) {
        const store = await startEndpointProcess();
        statusEndpoints.set(store.endpoint, store);
        const dynamodb = new DynamoDBClient(store.clientConfig);
        await ensureStatusTable(dynamodb, STATUS_TABLE);
        dynamodb.destroy();
        config.statusEndpoint = store.endpoint;
      }
      return config;
    },
    async run(contender, config) {
      const sqs = new SQSClient(config.clientConfig);
      const run: Run = {
        config,
        sqs,
        handle: config.handlerMs > 0 ? () => sleep(config.handlerMs) : () => Promise.resolve(),
        progress: counter(config.count),
        started: performance.now(),
      };
      try {
        if (contender === 'sqs-consumer') return await runSqsConsumer(run);
        if (contender === 'squiss-ts') return await runSquiss(run);
        if (contender === 'raw receive/delete') return await runRawLoop(run);
        return await runTqWorker(contender, run);
      } finally {
        sqs.destroy();
      }
    },
    servers(config) {
      const store = config.statusEndpoint ? statusEndpoints.get(config.statusEndpoint) : undefined;
      return store ? [store.pid] : [];
    },
    async verify(context, config) {
      if (config.statusEndpoint) {
        await statusEndpoints.get(config.statusEndpoint)?.stop();
        statusEndpoints.delete(config.statusEndpoint);
      }
      // Deletes may still be landing for a moment after the last handler finished.
      for (let i = 0; i < 50; i += 1) {
        if ((await remaining(context.clientConfig, config.queueUrl)) === 0) {
          await deleteQueues(context.clientConfig, config.queueUrl, config.dlqUrl);
          return;
        }
        await sleep(100);
      }
      throw new Error(`${name}: messages left on the queue after the run`);
    },
  };
  return scenario;
}

export const consumerNoop = consumerScenario(
  'consumer-noop',
  'consume 20,000 tasks, no-op handler, concurrency 50',
  0,
  20_000,
  4000,
  // Runs take about 4 s and single rounds move by ±0.15 on a shared host: five of them.
  5,
  // What an injected client costs: the worker's own clients cache the SDK's middleware. What
  // recording every task's status costs (the lifecycle issue asks for at least 0.8x), and what
  // the store alone takes from the shared cores.
  ['tq worker (injected client)', STATUS_ON, STORE_LOAD],
);
export const consumerSlow = consumerScenario(
  'consumer-50ms',
  'consume 20,000 tasks, 50 ms async handler, concurrency 50',
  50,
  20_000,
  2000,
  // sqs-consumer takes about two minutes a run here.
  2,
);
