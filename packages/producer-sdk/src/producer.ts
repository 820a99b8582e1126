import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsClientSettings, readEnvironment, serviceEndpoint, type TaskName, type TaskPayload } from '@tq/contracts';
import { createStatusStore, event, type StatusStore } from '@tq/status';
import { sendBatch } from './batch.js';
import { ClaimChecks } from './claim-check.js';
import { Destinations } from './destinations.js';
import { fromAwsError, type ProducerError } from './errors.js';
import { activeTraceContext, fifoFields, type Prepared, prepareTask, sendResult } from './prepare.js';
import { producerFlows } from './producer-flows.js';
import { LaterSends, resolveAt } from './schedule.js';
import type { BatchItem, BatchItemResult, Producer, ProducerOptions, SendOptions, SendResult } from './types.js';

/**
 * Creates a producer: task preparation (`prepare.ts`), destinations (`destinations.ts`), batch
 * planning (`plan.ts`) and batch calls (`batch.ts`) wired to the producer's clients. URLs and ARNs
 * are resolved on first use and cached, so creating one makes no calls.
 */
export function createProducer(options: ProducerOptions = {}): Producer {
  const env = readEnvironment();
  const environment = {
    ...env,
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  };
  const settings = awsClientSettings(environment);
  const prefix = options.prefix ?? env.prefix;
  const owned: { destroy(): void }[] = [];
  // The producer's own clients resolve each command's middleware stack once instead of on every
  // call (the SDK's cacheMiddleware): nobody else holds them to add middleware later, and no call
  // passes per-call options (which would clear the cache). The cached handler shares one context
  // between concurrent calls of a command; what the SDK writes there (endpoint, signing region)
  // is the same for every call, as the queues and the topic live in the client's region.
  // Injected clients are used as they are.
  const sqs = options.sqs ?? new SQSClient({ ...settings, cacheMiddleware: true });
  const sns = options.sns ?? new SNSClient({ ...settings, cacheMiddleware: true });
  if (!options.sqs) owned.push(sqs);
  if (!options.sns) owned.push(sns);
  // TQ_TOPIC_ARN (a deployment sets it): publish without listing topics, which needs no sns:ListTopics.
  const topicArn =
    options.topicArn ?? (options.prefix === undefined || options.prefix === env.prefix ? env.topicArn : undefined);
  const destinations = new Destinations({ sqs, sns, prefix, topicArn, queueUrls: options.queueUrls });
  const prepareContext = {
    registry: options.registry,
    claimChecks: options.largePayloads !== undefined,
    fifoTasks: options.fifoTasks ?? env.fifoTasks,
  };

  const claimChecks = new ClaimChecks({ bucket: options.largePayloads?.bucket, s3: options.s3, settings, owned });
  const claimCheck = claimChecks.apply;
  const laterSends = new LaterSends({
    environment,
    prefix,
    scheduler: options.scheduler,
    destinations,
    claimChecks,
    owned,
  });
  /** Holds a task until `at` in a one-time EventBridge Scheduler schedule. */
  async function sendLater(prepared: Prepared, at: Date): Promise<SendResult> {
    const result = sent(prepared, await laterSends.schedule(prepared, at));
    return { ...result, route: 'schedule', scheduledFor: at.toISOString() };
  }

  async function send<TTask extends TaskName>(
    task: TTask,
    payload: TaskPayload<TTask>,
    given: SendOptions = {},
  ): Promise<SendResult> {
    if (given.at !== undefined) prepareTask(task, payload, given, { ...prepareContext, trace: {} }); // option errors first
    const { options: sendOptions, later } = resolveAt(given);
    const prepared = prepareTask(task, payload, sendOptions, { ...prepareContext, trace: activeTraceContext() });
    if (later !== undefined) return await sendLater(prepared, later);
    await claimCheck(prepared);
    const messageId = await deliver(prepared, sendOptions.delaySeconds, { sqs, sns, destinations });
    return sent(prepared, messageId);
  }

  let statusStore: StatusStore | undefined = typeof options.status === 'object' ? options.status : undefined;
  const ownsStatusStore = statusStore === undefined;
  const status = () => {
    const endpoint = serviceEndpoint('dynamodb', environment);
    statusStore ??= createStatusStore({ prefix, ...(endpoint ? { endpoint } : {}) });
    return statusStore;
  };
  const recordSent = options.status !== undefined && options.status !== false;
  const batchSettings = { concurrency: options.batchConcurrency ?? 8, attempts: options.batchAttempts ?? 4 };
  function sent(prepared: Prepared, messageId: string): SendResult {
    const result = sendResult(prepared, messageId);
    if (recordSent) {
      const { task, createdAt } = prepared.envelope;
      status().writer.record(result.id, task, event('sent', 0, undefined, createdAt));
    }
    return result;
  }

  const flowDeps = { sqs, sns, destinations, ...batchSettings, claimCheck, status, recordSent };
  return {
    send,
    sendBatch: (given: readonly BatchItem[]) =>
      sendBatchScheduling(given, {
        sendOne: (item) => send(item.task, item.payload as never, item.options),
        sendBatch: async (items) => {
          // Before any entry is sent, so `sent` never follows a worker's `received` on the timeline.
          const at = new Date().toISOString();
          const results = await sendBatch(items, {
            sqs,
            sns,
            destinations,
            prepare: (item, trace) =>
              prepareTask(item.task, item.payload as never, item.options ?? {}, { ...prepareContext, trace }),
            claimCheck,
            ...batchSettings,
          });
          if (recordSent) {
            results.forEach((result, index) => {
              if (result.ok)
                status().writer.record(result.id, items[index]?.task ?? '', event('sent', 0, undefined, at));
            });
          }
          return results;
        },
      }),
    ...producerFlows({ ...flowDeps, registry: options.registry, prepare: prepareContext }),
    status: (id: string) => status().reader.get(id),
    async flush() {
      await statusStore?.writer.flush();
    },
    async close() {
      if (statusStore && ownsStatusStore) await statusStore.close();
      else await statusStore?.writer.flush();
      for (const client of owned) client.destroy();
    },
  };
}

/**
 * A batch where some tasks are for later than SQS can delay: those go one by one to the scheduler
 * (`sendOne`), the rest in batches (`sendBatch`); results come back in the given order.
 */
async function sendBatchScheduling(
  given: readonly BatchItem[],
  send: {
    sendOne(item: BatchItem): Promise<SendResult>;
    sendBatch(items: BatchItem[]): Promise<BatchItemResult[]>;
  },
): Promise<BatchItemResult[]> {
  const resolved = given.map((item) => ({ item, ...resolveAt(item.options ?? {}) }));
  const later = resolved.flatMap(({ item, later: at }, index) => (at ? [{ item, index }] : []));
  const items = resolved
    .filter(({ later: at }) => at === undefined)
    .map(({ item, options: o }) => ({ ...item, options: o }) as BatchItem);
  const scheduled = await Promise.all(
    later.map(({ item }) =>
      send.sendOne(item).then(
        (result): BatchItemResult => ({ ok: true, ...result }),
        (error: unknown): BatchItemResult => ({ ok: false, error: error as ProducerError }),
      ),
    ),
  );
  const batched = await send.sendBatch(items);
  if (later.length === 0) return batched;
  const out: BatchItemResult[] = [];
  let next = 0;
  const byIndex = new Map(later.map(({ index }, position) => [index, scheduled[position] as BatchItemResult]));
  for (let index = 0; index < given.length; index += 1) {
    out.push(byIndex.get(index) ?? (batched[next++] as BatchItemResult));
  }
  return out;
}

/** Sends one prepared task where its route says (the topic, or its queue); resolves with the message id. */
async function deliver(
  prepared: Prepared,
  delaySeconds: number | undefined,
  clients: { sqs: SQSClient; sns: SNSClient; destinations: Destinations },
): Promise<string> {
  if (prepared.route === 'topic') {
    const arn = await clients.destinations.topic();
    const out = await clients.sns
      .send(new PublishCommand({ TopicArn: arn, Message: prepared.body, MessageAttributes: prepared.attributes }))
      .catch((error: unknown) => {
        throw fromAwsError(error, `topic ${arn}`);
      });
    return out.MessageId as string;
  }
  const url = await clients.destinations.queue(prepared.envelope.task, prepared.fifo);
  const out = await clients.sqs
    .send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: prepared.body,
        MessageAttributes: prepared.attributes,
        ...(delaySeconds !== undefined ? { DelaySeconds: delaySeconds } : {}),
        ...fifoFields(prepared),
      }),
    )
    .catch((error: unknown) => {
      throw fromAwsError(error, `queue ${url}`);
    });
  return out.MessageId as string;
}
