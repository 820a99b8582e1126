import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ListTopicsCommand,
  type MessageAttributeValue,
  PublishBatchCommand,
  PublishCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { isSpanContextValid, context as otelContext, trace } from '@opentelemetry/api';
import { classifyAwsError } from '@tq/aws';
import {
  awsClientSettings,
  type CreateTaskOptions,
  claimCheckKey,
  createTask,
  encodeMessageBody,
  formatS3Uri,
  isTaskValidationError,
  MAX_CLAIM_CHECK_BYTES,
  MESSAGE_ATTRIBUTES,
  queueName,
  readEnvironment,
  type TaskEnvelope,
  type TaskName,
  type TaskPayload,
  type TaskRegistry,
  type TaskValidationError,
  topicName,
} from '@tq/contracts';
import { fromAwsError, isProducerError, PayloadTooLargeError, ProducerError } from './errors.js';

/** SQS's message size limit (body and attributes), also the limit of a whole SendMessageBatch. */
export const SQS_MAX_BYTES = 1_048_576;
/** SNS's message size limit (body and attributes), also the limit of a whole PublishBatch. */
export const SNS_MAX_BYTES = 262_144;
/** Entries per SendMessageBatch / PublishBatch. */
export const MAX_BATCH_ENTRIES = 10;
/**
 * Items `sendBatch` validates at a time, when its batch calls run out of planned work: small
 * enough that validating them never leaves the calls idle for long.
 */
const SEGMENT_ITEMS = 100;

/** What `createProducer` takes. Everything defaults from the environment. */
export interface ProducerOptions {
  /** Defaults to `AWS_REGION`, then `us-east-1`. */
  region?: string;
  /** Custom endpoint; defaults to `TQ_ENDPOINT` (unset: real AWS). */
  endpoint?: string;
  /** Resource name prefix; defaults to `TQ_PREFIX`, then `tq`. */
  prefix?: string;
  /** The topic to publish to, instead of looking up `<prefix>-tasks`. */
  topicArn?: string;
  /** Queue URLs by task (`send_email`, or `send_email.fifo` for the FIFO variant), instead of lookups. */
  queueUrls?: Partial<Record<string, string>>;
  /** Injected clients (their own configuration wins over region/endpoint). */
  sqs?: SQSClient;
  sns?: SNSClient;
  s3?: S3Client;
  /** Task types to validate against (default: the built-in registry). */
  registry?: TaskRegistry;
  /**
   * Claim check: tasks over the transport's size limit are stored in this bucket (under
   * `tq/claim-checks/`) and a small pointer is sent instead; the worker runtime fetches them.
   * Without it, such tasks throw `PayloadTooLargeError`.
   */
  largePayloads?: { bucket: string };
  /** Batch calls `sendBatch` runs at once. Default 8. */
  batchConcurrency?: number;
  /** Attempts per batch entry that failed transiently (throttling, network, server faults). Default 4. */
  batchAttempts?: number;
}

/** Per-send options. */
export interface SendOptions {
  /** `topic` (default): SNS fan-out; `queue`: straight to the task's queue. */
  route?: 'topic' | 'queue';
  /** Per-message delay, 0-900 s. Only SQS can delay one message, so this sends to the queue. */
  delaySeconds?: number;
  /**
   * FIFO message group: sends to the task's FIFO queue (`<prefix>-<task>.fifo`), where tasks of
   * one group are handled one at a time, in order.
   */
  groupId?: string;
  /** FIFO deduplication id; defaults to `idempotencyKey`, then the envelope id. */
  deduplicationId?: string;
  /** Caller-chosen key, carried in the envelope for the worker to recognise duplicates. */
  idempotencyKey?: string;
  /** W3C trace context to continue in the worker; defaults to the active OpenTelemetry span's. */
  traceparent?: string;
  tracestate?: string;
  /** Use this envelope id instead of a random UUID. */
  id?: string;
}

/** Where a task went. */
export interface SendResult {
  /** The envelope id: what the worker sees as `context.id`. */
  id: string;
  /** SNS or SQS message id. */
  messageId: string;
  route: 'topic' | 'queue';
  /** `s3://` URI of the stored envelope when the task went by claim check. */
  claimCheck?: string;
}

/** One task of a `sendBatch` call. */
export type BatchItem = {
  [TTask in TaskName]: { task: TTask; payload: TaskPayload<TTask>; options?: SendOptions };
}[TaskName];

/** The outcome of one `sendBatch` item, in input order. */
export type BatchItemResult = ({ ok: true } & SendResult) | { ok: false; error: TaskValidationError | ProducerError };

/** Sends tasks. Create one per process and share it; it caches resolved URLs and ARNs. */
export interface Producer {
  /**
   * Validates and sends one task. Throws `TaskValidationError` for an invalid payload and
   * `ProducerError` (`INVALID_OPTIONS`, `PAYLOAD_TOO_LARGE`, not found, throttled, credentials,
   * other AWS failures) otherwise; when it throws, the task was not sent.
   */
  send<TTask extends TaskName>(task: TTask, payload: TaskPayload<TTask>, options?: SendOptions): Promise<SendResult>;
  /**
   * Validates and sends any number of tasks in as few batch calls as the limits allow (10
   * entries and 1 MiB per SQS batch, 256 KiB per SNS batch), several calls at once, retrying
   * only the entries that failed transiently. Never throws for one item: returns one result
   * per item, in input order, `ok: false` with the typed error for items not sent.
   */
  sendBatch(items: readonly BatchItem[]): Promise<BatchItemResult[]>;
  /** Releases the clients this producer created (not injected ones). */
  close(): void;
}

const FIFO_ID = /^[\x21-\x7e]{1,128}$/;

/** Batch entry ids: positions, made once. */
const ENTRY_IDS = Array.from({ length: MAX_BATCH_ENTRIES }, (_, position) => String(position));

function checkOptions(options: SendOptions): void {
  const problems: string[] = [];
  if (options.route !== undefined && options.route !== 'topic' && options.route !== 'queue') {
    problems.push(`route is "${String(options.route)}", must be "topic" or "queue"`);
  }
  if (options.delaySeconds !== undefined) {
    const delay = options.delaySeconds;
    if (!Number.isInteger(delay) || delay < 0 || delay > 900) {
      problems.push(`delaySeconds is ${String(delay)}, must be an integer from 0 to 900`);
    }
    if (options.route === 'topic') problems.push('delaySeconds needs route "queue": SNS cannot delay one message');
    if (options.groupId !== undefined) {
      problems.push('delaySeconds cannot be combined with groupId: FIFO queues have no per-message delay');
    }
  }
  if (options.groupId !== undefined) {
    if (!FIFO_ID.test(options.groupId)) {
      problems.push('groupId must be 1-128 printable ASCII characters without spaces');
    }
    if (options.route === 'topic') problems.push('groupId needs route "queue": tq publishes to a standard topic');
  }
  if (options.deduplicationId !== undefined) {
    if (options.groupId === undefined) problems.push('deduplicationId only applies with groupId (FIFO queues)');
    if (!FIFO_ID.test(options.deduplicationId)) {
      problems.push('deduplicationId must be 1-128 printable ASCII characters without spaces');
    }
  }
  if (problems.length > 0) throw new ProducerError('INVALID_OPTIONS', `invalid send options: ${problems.join('; ')}`);
}

function byteSize(body: string, attributes: Record<string, MessageAttributeValue>): number {
  let bytes = Buffer.byteLength(body);
  for (const [name, value] of Object.entries(attributes)) {
    bytes +=
      Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}

/** The active OpenTelemetry span's context as W3C headers, when there is one. */
function activeTraceContext(): { traceparent?: string; tracestate?: string } {
  const spanContext = trace.getSpanContext(otelContext.active());
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  const tracestate = spanContext.traceState?.serialize();
  return {
    traceparent: `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`,
    ...(tracestate ? { tracestate } : {}),
  };
}

/** A validated task, ready for the wire. */
interface Prepared {
  envelope: TaskEnvelope;
  route: 'topic' | 'queue';
  fifo: boolean;
  body: string;
  attributes: Record<string, MessageAttributeValue>;
  bytes: number;
  limit: number;
  options: SendOptions;
  claimCheck?: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `work` over `items` with at most `limit` running at once. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}

/**
 * Creates a producer. URLs and ARNs are resolved on first use and cached, so creating one
 * makes no calls.
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
  const batchConcurrency = options.batchConcurrency ?? 8;
  const batchAttempts = options.batchAttempts ?? 4;

  let topicArn: Promise<string> | undefined = options.topicArn ? Promise.resolve(options.topicArn) : undefined;
  const queueUrls = new Map<string, Promise<string>>(
    Object.entries(options.queueUrls ?? {}).flatMap(([task, url]) => (url ? [[task, Promise.resolve(url)]] : [])),
  );

  function resolveTopic(): Promise<string> {
    const name = topicName(prefix);
    topicArn ??= (async () => {
      let token: string | undefined;
      do {
        const page = await sns.send(new ListTopicsCommand({ NextToken: token }));
        const found = page.Topics?.find((topic) => topic.TopicArn?.endsWith(`:${name}`))?.TopicArn;
        if (found) return found;
        token = page.NextToken;
      } while (token);
      throw new ProducerError(
        'TOPIC_NOT_FOUND',
        `topic ${name} does not exist: run \`tq provision\` (prefix "${prefix}")`,
      );
    })().catch((error: unknown) => {
      topicArn = undefined; // a failed lookup is retried on the next send
      throw error instanceof ProducerError ? error : fromAwsError(error, `topic ${name}`);
    });
    return topicArn;
  }

  function resolveQueue(task: string, fifo: boolean): Promise<string> {
    const key = fifo ? `${task}.fifo` : task;
    const cached = queueUrls.get(key);
    if (cached !== undefined) return cached;
    const name = queueName(prefix, task, fifo);
    const lookup = sqs
      .send(new GetQueueUrlCommand({ QueueName: name }))
      .then((result) => result.QueueUrl as string)
      .catch((error: unknown) => {
        queueUrls.delete(key);
        throw fromAwsError(error, `queue ${name}`);
      });
    queueUrls.set(key, lookup);
    return lookup;
  }

  /** Validates and encodes one task; throws `TaskValidationError` or `ProducerError`. */
  function prepare<TTask extends TaskName>(
    task: TTask,
    payload: TaskPayload<TTask>,
    sendOptions: SendOptions,
    activeTrace: { traceparent?: string; tracestate?: string } = activeTraceContext(),
  ): Prepared {
    checkOptions(sendOptions);
    const taskOptions: CreateTaskOptions = {};
    if (sendOptions.id !== undefined) taskOptions.id = sendOptions.id;
    if (sendOptions.idempotencyKey !== undefined) taskOptions.idempotencyKey = sendOptions.idempotencyKey;
    if (sendOptions.traceparent !== undefined) {
      taskOptions.traceparent = sendOptions.traceparent;
      if (sendOptions.tracestate !== undefined) taskOptions.tracestate = sendOptions.tracestate;
    } else if (activeTrace.traceparent !== undefined) {
      taskOptions.traceparent = activeTrace.traceparent;
      if (activeTrace.tracestate !== undefined) taskOptions.tracestate = activeTrace.tracestate;
    }
    if (options.registry) taskOptions.registry = options.registry;
    const envelope = createTask(task, payload, taskOptions) as TaskEnvelope;
    const fifo = sendOptions.groupId !== undefined;
    const route =
      sendOptions.route ?? (sendOptions.delaySeconds !== undefined || fifo ? ('queue' as const) : ('topic' as const));
    const body = encodeMessageBody(envelope);
    const attributes: Record<string, MessageAttributeValue> = {
      [MESSAGE_ATTRIBUTES.task]: { DataType: 'String', StringValue: envelope.task },
      [MESSAGE_ATTRIBUTES.version]: { DataType: 'Number', StringValue: String(envelope.version) },
    };
    if (envelope.traceparent) attributes.traceparent = { DataType: 'String', StringValue: envelope.traceparent };
    const limit = route === 'topic' ? SNS_MAX_BYTES : SQS_MAX_BYTES;
    const bytes = byteSize(body, attributes);
    if (bytes > limit && !options.largePayloads) throw new PayloadTooLargeError(bytes, limit, route);
    if (bytes > MAX_CLAIM_CHECK_BYTES) throw new PayloadTooLargeError(bytes, MAX_CLAIM_CHECK_BYTES, 'claim-check');
    return { envelope, route, fifo, body, attributes, bytes, limit, options: sendOptions };
  }

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

  function fifoFields(prepared: Prepared) {
    if (!prepared.fifo) return {};
    const o = prepared.options;
    return {
      MessageGroupId: o.groupId,
      MessageDeduplicationId: o.deduplicationId ?? o.idempotencyKey ?? prepared.envelope.id,
    };
  }

  function result(prepared: Prepared, messageId: string): SendResult {
    const sent: SendResult = { id: prepared.envelope.id, messageId, route: prepared.route };
    if (prepared.claimCheck) sent.claimCheck = prepared.claimCheck;
    return sent;
  }

  async function send<TTask extends TaskName>(
    task: TTask,
    payload: TaskPayload<TTask>,
    sendOptions: SendOptions = {},
  ): Promise<SendResult> {
    const prepared = prepare(task, payload, sendOptions);
    await claimCheck(prepared);
    if (prepared.route === 'topic') {
      const arn = await resolveTopic();
      const out = await sns
        .send(new PublishCommand({ TopicArn: arn, Message: prepared.body, MessageAttributes: prepared.attributes }))
        .catch((error: unknown) => {
          throw fromAwsError(error, `topic ${arn}`);
        });
      return result(prepared, out.MessageId as string);
    }
    const url = await resolveQueue(task, prepared.fifo);
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
    return result(prepared, out.MessageId as string);
  }

  async function sendBatch(items: readonly BatchItem[]): Promise<BatchItemResult[]> {
    const results: BatchItemResult[] = new Array(items.length);
    const fail = (index: number, error: unknown) => {
      results[index] = {
        ok: false,
        error:
          isTaskValidationError(error) || isProducerError(error)
            ? (error as TaskValidationError | ProducerError)
            : new ProducerError('AWS_ERROR', (error as Error).message ?? String(error), { cause: error }),
      };
    };

    type Entry = { index: number; prepared: Prepared };
    // One destination function per queue for the whole call: FIFO batches are ordered by it.
    const destinations = new Map<string, () => Promise<string>>();
    const queueDestination = (task: TaskName, fifo: boolean): (() => Promise<string>) => {
      const key = fifo ? `${task}.fifo` : task;
      let destination = destinations.get(key);
      if (!destination) {
        destination = () => resolveQueue(task, fifo);
        destinations.set(key, destination);
      }
      return destination;
    };
    type Batch = { destination: () => Promise<string>; route: 'topic' | 'queue'; fifo: boolean; entries: Entry[] };
    // One lookup of the caller's trace context for the whole call (it cannot change within it).
    const activeTrace = activeTraceContext();

    /** Validates one segment and cuts it into batches by destination within the entry and byte limits. */
    const plan = async (from: number, to: number): Promise<Batch[]> => {
      // Invalid items are reported; the rest still go.
      const ready: Entry[] = [];
      for (let index = from; index < to; index += 1) {
        const item = items[index] as BatchItem;
        try {
          ready.push({ index, prepared: prepare(item.task, item.payload as never, item.options ?? {}, activeTrace) });
        } catch (error) {
          fail(index, error);
        }
      }
      const oversized = ready.filter(({ prepared }) => prepared.bytes > prepared.limit);
      const stored = new Set<number>();
      await pool(oversized, batchConcurrency, async ({ index, prepared }) => {
        try {
          await claimCheck(prepared);
          stored.add(index);
        } catch (error) {
          fail(index, error);
        }
      });
      const groups = new Map<() => Promise<string>, Entry[]>();
      for (const entry of ready) {
        const p = entry.prepared;
        if (p.bytes > p.limit && !stored.has(entry.index)) continue;
        const key = p.route === 'topic' ? resolveTopic : queueDestination(p.envelope.task, p.fifo);
        const group = groups.get(key);
        if (group) group.push(entry);
        else groups.set(key, [entry]);
      }
      const planned: Batch[] = [];
      for (const [destination, group] of groups) {
        const first = group[0]?.prepared as Prepared;
        let current: Entry[] = [];
        let bytes = 0;
        for (const entry of group) {
          if (current.length === MAX_BATCH_ENTRIES || bytes + entry.prepared.bytes > first.limit) {
            planned.push({ destination, route: first.route, fifo: first.fifo, entries: current });
            current = [];
            bytes = 0;
          }
          current.push(entry);
          bytes += entry.prepared.bytes;
        }
        if (current.length > 0) planned.push({ destination, route: first.route, fifo: first.fifo, entries: current });
      }
      return planned;
    };

    // Batch calls run `batchConcurrency` at a time; whichever call comes free first validates the
    // next segment when no planned batch is left, so validation overlaps the calls in flight.
    const upcoming: Batch[] = [];
    let plannedFrom = 0;
    let planning: Promise<void> | undefined;
    const nextBatch = async (): Promise<Batch | undefined> => {
      for (;;) {
        if (upcoming.length > 0) return upcoming.shift();
        // One segment is validated at a time; calls that come free meanwhile wait for it.
        if (planning !== undefined) {
          await planning;
          continue;
        }
        if (plannedFrom >= items.length) return undefined;
        const from = plannedFrom;
        plannedFrom = Math.min(items.length, from + SEGMENT_ITEMS);
        planning = plan(from, plannedFrom).then((batches) => {
          upcoming.push(...batches);
          planning = undefined;
        });
      }
    };
    // Batches to one FIFO queue go one after another, so a message group keeps its order.
    const fifoTails = new Map<Batch['destination'], Promise<void>>();
    const runners = Array.from({ length: batchConcurrency }, async () => {
      for (let batch = await nextBatch(); batch !== undefined; batch = await nextBatch()) {
        if (!batch.fifo) {
          await sendOne(batch);
          continue;
        }
        const previous = fifoTails.get(batch.destination) ?? Promise.resolve();
        const current = previous.then(() => sendOne(batch));
        fifoTails.set(batch.destination, current);
        await current;
      }
    });
    await Promise.all(runners);
    return results;

    async function sendOne(batch: Batch): Promise<void> {
      let target: string;
      try {
        target = await batch.destination();
      } catch (error) {
        for (const { index } of batch.entries) fail(index, error);
        return;
      }
      let pending = batch.entries;
      for (let attempt = 1; pending.length > 0; attempt += 1) {
        // Entry ids are positions in this call, never derived from the bodies.
        const byId = new Map<string, Entry>();
        for (let position = 0; position < pending.length; position += 1) {
          byId.set(ENTRY_IDS[position] ?? String(position), pending[position] as Entry);
        }
        const retry: typeof pending = [];
        let lastError: ProducerError | undefined;
        try {
          const { Successful, Failed } =
            batch.route === 'topic'
              ? await sns.send(
                  new PublishBatchCommand({
                    TopicArn: target,
                    PublishBatchRequestEntries: [...byId].map(([id, { prepared }]) => ({
                      Id: id,
                      Message: prepared.body,
                      MessageAttributes: prepared.attributes,
                    })),
                  }),
                )
              : await sqs.send(
                  new SendMessageBatchCommand({
                    QueueUrl: target,
                    Entries: [...byId].map(([id, { prepared }]) => ({
                      Id: id,
                      MessageBody: prepared.body,
                      MessageAttributes: prepared.attributes,
                      ...(prepared.options.delaySeconds !== undefined
                        ? { DelaySeconds: prepared.options.delaySeconds }
                        : {}),
                      ...fifoFields(prepared),
                    })),
                  }),
                );
          for (const success of Successful ?? []) {
            const entry = byId.get(success.Id ?? '');
            if (!entry) continue;
            results[entry.index] = { ok: true, ...result(entry.prepared, success.MessageId ?? '') };
            byId.delete(success.Id ?? '');
          }
          for (const failure of Failed ?? []) {
            const entry = byId.get(failure.Id ?? '');
            if (!entry) continue;
            byId.delete(failure.Id ?? '');
            const error = new ProducerError(
              classifyAwsError({ name: failure.Code }) === 'throttled' ? 'THROTTLED' : 'AWS_ERROR',
              `${batch.route === 'topic' ? 'topic' : 'queue'} ${target} rejected the task: ${failure.Code}: ${failure.Message ?? ''}`,
              { retryable: failure.SenderFault !== true },
            );
            if (error.retryable && attempt < batchAttempts) retry.push(entry);
            else fail(entry.index, error);
          }
          // Entries the response did not mention were not confirmed: try them again.
          for (const entry of byId.values()) retry.push(entry);
        } catch (error) {
          lastError = fromAwsError(error, `${batch.route === 'topic' ? 'topic' : 'queue'} ${target}`);
          if (lastError.retryable && attempt < batchAttempts) retry.push(...pending);
          else for (const { index } of pending) fail(index, lastError);
        }
        if (retry.length > 0 && attempt >= batchAttempts) {
          for (const { index } of retry) fail(index, lastError ?? new ProducerError('AWS_ERROR', 'not confirmed'));
          break;
        }
        pending = retry;
        if (pending.length > 0) await sleep(Math.random() * 100 * 2 ** attempt);
      }
    }
  }

  return {
    send,
    sendBatch,
    close() {
      for (const client of owned) client.destroy();
    },
  };
}
