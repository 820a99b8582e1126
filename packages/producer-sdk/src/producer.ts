import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ConflictException,
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  ResourceNotFoundException,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  atExpression,
  awsClientSettings,
  awsServiceSettings,
  claimCheckKey,
  encodeMessageBody,
  formatS3Uri,
  ONE_TIME_PREFIX,
  readEnvironment,
  SCHEDULE_INPUT_MAX_CHARS,
  scheduleTarget,
  serviceEndpoint,
  type TaskName,
  type TaskPayload,
} from '@tq/contracts';
import { createStatusStore, event, type StatusStore } from '@tq/status';
import { sendBatch } from './batch.js';
import { Destinations } from './destinations.js';
import { fromAwsError, PayloadTooLargeError, ProducerError } from './errors.js';
import { activeTraceContext, byteSize, fifoFields, type Prepared, prepareTask, sendResult } from './prepare.js';
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
  let s3 = options.s3;
  // TQ_TOPIC_ARN (a deployment sets it): publish without listing topics, which needs no sns:ListTopics.
  const topicArn =
    options.topicArn ?? (options.prefix === undefined || options.prefix === env.prefix ? env.topicArn : undefined);
  const destinations = new Destinations({ sqs, sns, prefix, topicArn, queueUrls: options.queueUrls });
  const prepareContext = {
    registry: options.registry,
    claimChecks: options.largePayloads !== undefined,
    fifoTasks: options.fifoTasks ?? env.fifoTasks,
  };

  /** Stores an oversized envelope in S3 and swaps the body for a pointer to it. */
  async function claimCheck(prepared: Prepared): Promise<void> {
    if (prepared.bytes <= prepared.limit) return;
    const bucket = options.largePayloads?.bucket;
    if (!bucket) throw new PayloadTooLargeError(prepared.bytes, prepared.limit, prepared.route);
    if (!s3) {
      s3 = new S3Client({ ...settings, forcePathStyle: settings.forcePathStyle ?? false });
      owned.push(s3);
    }
    const { envelope } = prepared;
    const key = claimCheckKey(envelope);
    const data = Buffer.from(prepared.body);
    const sha256 = createHash('sha256').update(data).digest('hex');
    await s3
      .send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: data,
          ContentType: 'application/json',
          ChecksumSHA256: createHash('sha256').update(data).digest('base64'),
          Metadata: { 'tq-task': envelope.task, 'tq-id': envelope.id },
        }),
      )
      .catch((error: unknown) => {
        throw fromAwsError(error, `bucket ${bucket}`);
      });
    const uri = formatS3Uri(bucket, key);
    const { payload: _payload, ...meta } = envelope;
    prepared.body = encodeMessageBody({ ...meta, claimCheck: { uri, bytes: data.byteLength, sha256 } });
    prepared.bytes = byteSize(prepared.body, prepared.attributes);
    prepared.claimCheck = uri;
  }

  let scheduler = options.scheduler;
  const schedulerClient = () => {
    if (!scheduler) {
      scheduler = new SchedulerClient(awsServiceSettings('scheduler', environment));
      owned.push(scheduler);
    }
    return scheduler;
  };
  const scheduleGroup = process.env.TQ_SCHEDULE_GROUP || prefix;

  /**
   * Holds a task until `at` in a one-time EventBridge Scheduler schedule that publishes its
   * envelope to the topic, and deletes itself after.
   */
  async function sendLater(prepared: Prepared, at: Date): Promise<SendResult> {
    const roleArn =
      process.env.TQ_SCHEDULER_ROLE_ARN ||
      (serviceEndpoint('scheduler', environment) ? 'arn:aws:iam::000000000000:role/tq-scheduler' : '');
    if (!roleArn) {
      throw new ProducerError(
        'INVALID_OPTIONS',
        'send(..., { at }) beyond 15 minutes needs TQ_SCHEDULER_ROLE_ARN: the role EventBridge Scheduler publishes with (TqTopology.environment() sets it)',
      );
    }
    const topicArn = await destinations.topic();
    const name = `${ONE_TIME_PREFIX}${prepared.envelope.id}`;
    const target = scheduleTarget(
      { task: prepared.envelope.task, message: prepared.body, attributes: prepared.attributes as never },
      { topicArn, roleArn },
    );
    if (target.Input.length > SCHEDULE_INPUT_MAX_CHARS) {
      // EventBridge Scheduler takes 8,192 characters of input: a larger task goes by claim check.
      if (!options.largePayloads)
        throw new PayloadTooLargeError(target.Input.length, SCHEDULE_INPUT_MAX_CHARS, 'topic');
      prepared.limit = 0;
      await claimCheck(prepared);
      target.Input = scheduleTarget(
        { task: prepared.envelope.task, message: prepared.body, attributes: prepared.attributes as never },
        { topicArn, roleArn },
      ).Input;
    }
    const request = {
      Name: name,
      GroupName: scheduleGroup,
      ScheduleExpression: atExpression(at),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' as const },
      ActionAfterCompletion: 'DELETE' as const,
      Description: `tq ${prepared.envelope.task} ${prepared.envelope.id}`,
      Target: target,
    };
    const client = schedulerClient();
    const create = () => client.send(new CreateScheduleCommand(request));
    const out = await create()
      .catch(async (error: unknown) => {
        if (!(error instanceof ResourceNotFoundException)) throw error;
        // The group is made by the deployment (or `tq up`); make it where it is missing.
        await client.send(new CreateScheduleGroupCommand({ Name: scheduleGroup })).catch((created: unknown) => {
          if (!(created instanceof ConflictException)) throw created;
        });
        return await create();
      })
      .catch((error: unknown) => {
        throw fromAwsError(error, `schedule group ${scheduleGroup}`);
      });
    const result = sent(prepared, out.ScheduleArn as string);
    return { ...result, route: 'schedule', scheduledFor: at.toISOString() };
  }

  /** `at` within SQS's reach becomes a delay; beyond it, the time to schedule for. */
  function resolveAt(sendOptions: SendOptions): { options: SendOptions; later?: Date } {
    if (sendOptions.at === undefined) return { options: sendOptions };
    const at = sendOptions.at instanceof Date ? sendOptions.at : new Date(sendOptions.at);
    if (Number.isNaN(at.getTime())) return { options: sendOptions }; // prepareTask reports it
    const { at: _at, ...rest } = sendOptions;
    const seconds = Math.max(0, Math.ceil((at.getTime() - Date.now()) / 1000));
    if (seconds <= 900) return { options: seconds > 0 ? { ...rest, delaySeconds: seconds } : rest };
    return { options: rest, later: at };
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
    if (prepared.route === 'topic') {
      const arn = await destinations.topic();
      const out = await sns
        .send(new PublishCommand({ TopicArn: arn, Message: prepared.body, MessageAttributes: prepared.attributes }))
        .catch((error: unknown) => {
          throw fromAwsError(error, `topic ${arn}`);
        });
      return sent(prepared, out.MessageId as string);
    }
    const url = await destinations.queue(task, prepared.fifo);
    const out = await sqs
      .send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: prepared.body,
          MessageAttributes: prepared.attributes,
          ...(sendOptions.delaySeconds !== undefined ? { DelaySeconds: sendOptions.delaySeconds } : {}),
          ...fifoFields(prepared),
        }),
      )
      .catch((error: unknown) => {
        throw fromAwsError(error, `queue ${url}`);
      });
    return sent(prepared, out.MessageId as string);
  }

  let statusStore: StatusStore | undefined = typeof options.status === 'object' ? options.status : undefined;
  const ownsStatusStore = statusStore === undefined;
  const status = () => {
    const endpoint = serviceEndpoint('dynamodb', environment);
    statusStore ??= createStatusStore({ prefix, ...(endpoint ? { endpoint } : {}) });
    return statusStore;
  };
  const recordSent = options.status !== undefined && options.status !== false;
  function sent(prepared: Prepared, messageId: string): SendResult {
    const result = sendResult(prepared, messageId);
    if (recordSent) {
      const { task, createdAt } = prepared.envelope;
      status().writer.record(result.id, task, event('sent', 0, undefined, createdAt));
    }
    return result;
  }

  return {
    send,
    sendBatch: async (given: readonly BatchItem[]): Promise<BatchItemResult[]> => {
      // Tasks for later than SQS can delay go one by one to the scheduler; the rest in batches.
      const resolved = given.map((item) => ({ item, ...resolveAt(item.options ?? {}) }));
      const later = resolved.flatMap(({ item, later: at }, index) => (at ? [{ item, index }] : []));
      const items = resolved
        .filter(({ later: at }) => at === undefined)
        .map(({ item, options: o }) => ({ ...item, options: o }) as BatchItem);
      const scheduled = await Promise.all(
        later.map(({ item }) =>
          send(item.task, item.payload as never, item.options).then(
            (result): BatchItemResult => ({ ok: true, ...result }),
            (error: unknown): BatchItemResult => ({ ok: false, error: error as ProducerError }),
          ),
        ),
      );
      // Before any entry is sent, so `sent` never follows a worker's `received` on the timeline.
      const at = new Date().toISOString();
      const batched = await sendBatch(items, {
        sqs,
        sns,
        destinations,
        prepare: (item, trace) =>
          prepareTask(item.task, item.payload as never, item.options ?? {}, { ...prepareContext, trace }),
        claimCheck,
        concurrency: options.batchConcurrency ?? 8,
        attempts: options.batchAttempts ?? 4,
      }).then((results) => {
        if (recordSent) {
          results.forEach((result, index) => {
            if (result.ok) status().writer.record(result.id, items[index]?.task ?? '', event('sent', 0, undefined, at));
          });
        }
        return results;
      });
      if (later.length === 0) return batched;
      const out: BatchItemResult[] = [];
      let next = 0;
      const byIndex = new Map(later.map(({ index }, position) => [index, scheduled[position] as BatchItemResult]));
      for (let index = 0; index < given.length; index += 1) {
        out.push(byIndex.get(index) ?? (batched[next++] as BatchItemResult));
      }
      return out;
    },
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
