import { ListTopicsCommand, type MessageAttributeValue, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  awsClientSettings,
  createTask,
  MESSAGE_ATTRIBUTES,
  queueName,
  readEnvironment,
  type TaskEnvelope,
  type TaskName,
  type TaskPayload,
  type TaskRegistry,
  topicName,
} from '@tq/contracts';
import { fromAwsError, PayloadTooLargeError, ProducerError } from './errors.js';

/** SQS's message size limit (body and attributes). */
export const SQS_MAX_BYTES = 1_048_576;
/** SNS's message size limit (body and attributes). */
export const SNS_MAX_BYTES = 262_144;

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
  /** Queue URLs by task, instead of looking up `<prefix>-<task>`. */
  queueUrls?: Partial<Record<string, string>>;
  /** Injected clients (their own configuration wins over region/endpoint). */
  sqs?: SQSClient;
  sns?: SNSClient;
  /** Task types to validate against (default: the built-in registry). */
  registry?: TaskRegistry;
}

/** Per-send options. */
export interface SendOptions {
  /** `topic` (default): SNS fan-out; `queue`: straight to the task's queue. */
  route?: 'topic' | 'queue';
  /** Per-message delay, 0-900 s. Only SQS can delay one message, so this sends to the queue. */
  delaySeconds?: number;
  /** Caller-chosen key, carried in the envelope for the worker to recognise duplicates. */
  idempotencyKey?: string;
  /** W3C trace context to continue in the worker. */
  traceparent?: string;
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
}

/** Sends tasks. Create one per process and share it; it caches resolved URLs and ARNs. */
export interface Producer {
  /**
   * Validates and sends one task. Throws `TaskValidationError` for an invalid payload and
   * `ProducerError` (`INVALID_OPTIONS`, `PAYLOAD_TOO_LARGE`, not found, throttled, credentials,
   * other AWS failures) otherwise; when it throws, the task was not sent.
   */
  send<TTask extends TaskName>(task: TTask, payload: TaskPayload<TTask>, options?: SendOptions): Promise<SendResult>;
  /** Releases the clients this producer created (not injected ones). */
  close(): void;
}

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
  const sqs = options.sqs ?? new SQSClient(settings);
  const sns = options.sns ?? new SNSClient(settings);
  if (!options.sqs) owned.push(sqs);
  if (!options.sns) owned.push(sns);

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

  function resolveQueue(task: string): Promise<string> {
    const cached = queueUrls.get(task);
    if (cached !== undefined) return cached;
    const name = queueName(prefix, task);
    const lookup = sqs
      .send(new GetQueueUrlCommand({ QueueName: name }))
      .then((result) => result.QueueUrl as string)
      .catch((error: unknown) => {
        queueUrls.delete(task);
        throw fromAwsError(error, `queue ${name}`);
      });
    queueUrls.set(task, lookup);
    return lookup;
  }

  async function send<TTask extends TaskName>(
    task: TTask,
    payload: TaskPayload<TTask>,
    sendOptions: SendOptions = {},
  ): Promise<SendResult> {
    checkOptions(sendOptions);
    const envelope: TaskEnvelope<TTask> = createTask(task, payload, {
      ...(sendOptions.id !== undefined ? { id: sendOptions.id } : {}),
      ...(sendOptions.idempotencyKey !== undefined ? { idempotencyKey: sendOptions.idempotencyKey } : {}),
      ...(sendOptions.traceparent !== undefined ? { traceparent: sendOptions.traceparent } : {}),
      ...(options.registry ? { registry: options.registry } : {}),
    });
    const route = sendOptions.route ?? (sendOptions.delaySeconds !== undefined ? 'queue' : 'topic');
    const body = JSON.stringify(envelope);
    const attributes: Record<string, MessageAttributeValue> = {
      [MESSAGE_ATTRIBUTES.task]: { DataType: 'String', StringValue: envelope.task },
      [MESSAGE_ATTRIBUTES.version]: { DataType: 'Number', StringValue: String(envelope.version) },
    };
    if (envelope.traceparent) attributes.traceparent = { DataType: 'String', StringValue: envelope.traceparent };
    const limit = route === 'topic' ? SNS_MAX_BYTES : SQS_MAX_BYTES;
    const bytes = byteSize(body, attributes);
    if (bytes > limit) throw new PayloadTooLargeError(bytes, limit, route);

    if (route === 'topic') {
      const arn = await resolveTopic();
      const result = await sns
        .send(new PublishCommand({ TopicArn: arn, Message: body, MessageAttributes: attributes }))
        .catch((error: unknown) => {
          throw fromAwsError(error, `topic ${arn}`);
        });
      return { id: envelope.id, messageId: result.MessageId as string, route };
    }
    const url = await resolveQueue(task);
    const result = await sqs
      .send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: body,
          MessageAttributes: attributes,
          ...(sendOptions.delaySeconds !== undefined ? { DelaySeconds: sendOptions.delaySeconds } : {}),
        }),
      )
      .catch((error: unknown) => {
        throw fromAwsError(error, `queue ${url}`);
      });
    return { id: envelope.id, messageId: result.MessageId as string, route };
  }

  return {
    send,
    close() {
      for (const client of owned) client.destroy();
    },
  };
}
