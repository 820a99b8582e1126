import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { classifyAwsError } from './errors.js';
import { copyMessageAttributes, parseRedrivePolicy } from './sqs.js';

// Finding a task's queues and moving dead letters back: what the CLI and the console share.

/**
 * A queue's URL by name (in `ownerAccount`, for a queue another account shares, such as the DLQ a
 * redrive policy names), or undefined when it does not exist. Other errors are thrown as they are.
 */
export async function lookupQueueUrl(
  sqs: SQSClient,
  name: string,
  options: { ownerAccount?: string | undefined } = {},
): Promise<string | undefined> {
  const owner = options.ownerAccount ? { QueueOwnerAWSAccountId: options.ownerAccount } : {};
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name, ...owner }))).QueueUrl;
  } catch (error) {
    if (classifyAwsError(error) === 'not-found') return undefined;
    throw error;
  }
}

/** A queue and its dead-letter queue, as found. */
export interface QueuePair {
  queueUrl: string;
  queueArn: string;
  /** Whether the queue is the `.fifo` one. */
  fifo: boolean;
  dlqUrl: string;
  dlqArn: string;
}

/**
 * Finds a queue by its standard name, else its FIFO name, and its dead-letter queue: the redrive
 * policy's target, else `dlqName(fifo)`. Throws `Error` naming the missing queue and `fix` (such as
 * "run tq provision") when either does not exist.
 */
export async function findQueuePair(
  sqs: SQSClient,
  names: { standard: string; fifo: string; dlq: (fifo: boolean) => string },
  fix: string,
): Promise<QueuePair> {
  let fifo = false;
  let queueUrl = await lookupQueueUrl(sqs, names.standard);
  if (!queueUrl) {
    queueUrl = await lookupQueueUrl(sqs, names.fifo);
    fifo = queueUrl !== undefined;
  }
  if (!queueUrl) throw new Error(`queue ${names.standard} does not exist (nor ${names.fifo}): ${fix}`);
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'RedrivePolicy'] }),
  );
  const policy = parseRedrivePolicy(attributes.Attributes?.RedrivePolicy);
  const dlq = policy?.deadLetterQueue.name ?? names.dlq(fifo);
  const dlqUrl = await lookupQueueUrl(sqs, dlq);
  if (!dlqUrl) throw new Error(`dead-letter queue ${dlq} does not exist: ${fix}`);
  const dlqArn =
    policy?.deadLetterTargetArn ??
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes
      ?.QueueArn ??
    '';
  return { queueUrl, queueArn: attributes.Attributes?.QueueArn ?? '', fifo, dlqUrl, dlqArn };
}

/** The system attributes a dead letter must be received with for `redriveEntry` (FIFO group, attempt). */
export const REDRIVE_SYSTEM_ATTRIBUTES = ['MessageGroupId', 'ApproximateReceiveCount'] as const;

/**
 * A dead letter as an entry of a send back to its queue: the body (or `body`), its attributes but
 * the ones in `drop` (the failure reason), and on a FIFO queue its message group (received with
 * `REDRIVE_SYSTEM_ATTRIBUTES`) and a deduplication id of this dead letter, so a send repeated after
 * a crash is not delivered twice within SQS's five-minute window.
 */
export function redriveEntry(
  message: Message,
  options: { id: string; fifo: boolean; drop: ReadonlySet<string>; body?: string },
): SendMessageBatchRequestEntry {
  return {
    Id: options.id,
    MessageBody: options.body ?? message.Body ?? '',
    MessageAttributes: copyMessageAttributes(message.MessageAttributes, { drop: options.drop }),
    ...(options.fifo
      ? {
          MessageGroupId: message.Attributes?.MessageGroupId ?? 'tq-redrive',
          MessageDeduplicationId: `${message.MessageId}-${message.Attributes?.ApproximateReceiveCount ?? 1}`,
        }
      : {}),
  };
}

/** Approximate message counts of a queue, as `GetQueueAttributes` reports them. */
export interface QueueCounts {
  /** The queue's name (the last part of its URL). */
  name: string;
  visible: number;
  inFlight: number;
  delayed: number;
}

/** Reads the approximate visible, in-flight and delayed counts of a queue: one `GetQueueAttributes`. */
export async function queueCounts(sqs: SQSClient, queueUrl: string): Promise<QueueCounts> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const attributes = result.Attributes ?? {};
  return {
    name: queueUrl.split('/').at(-1) ?? queueUrl,
    visible: Number(attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

/** What `sampleMessages` asks for and how long it holds what it read. */
export interface SampleOptions {
  /** At most this many messages (default 10). */
  max?: number;
  /** Seconds each read message stays invisible while the sample is taken (default 30). */
  holdSeconds?: number;
  /** The system attributes to return (default `SentTimestamp` and those a redrive keeps). */
  systemAttributes?: readonly string[];
}

/**
 * Reads up to `max` messages of a queue without consuming them: each stays invisible while the
 * sample is taken (so the next receive returns others), then is visible again at once. Bounded by
 * the queue's depth, so an empty queue answers at once. Every read counts one receive toward the
 * queue's `maxReceiveCount`: sample a DLQ freely, a work queue sparingly.
 */
export async function sampleMessages(
  sqs: SQSClient,
  queueUrl: string,
  options: SampleOptions = {},
): Promise<Message[]> {
  const max = options.max ?? 10;
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  const wanted = Math.min(max, Number(attributes.Attributes?.ApproximateNumberOfMessages ?? max));
  const seen = new Map<string, Message>();
  const held: Message[] = [];
  try {
    for (let empty = 0; seen.size < wanted && empty < 2; ) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, wanted - seen.size),
          // A short long-poll asks every SQS host, so a nearly empty queue is not reported empty.
          WaitTimeSeconds: 1,
          VisibilityTimeout: options.holdSeconds ?? 30,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: [
            ...(options.systemAttributes ?? ['SentTimestamp', ...REDRIVE_SYSTEM_ATTRIBUTES]),
          ] as never,
        }),
      );
      held.push(...Messages);
      const fresh = Messages.filter((message) => !seen.has(message.MessageId ?? ''));
      for (const message of fresh) seen.set(message.MessageId ?? '', message);
      empty = fresh.length === 0 ? empty + 1 : 0;
    }
  } finally {
    await releaseMessages(sqs, queueUrl, held);
  }
  return [...seen.values()];
}

/** Makes received messages visible again at once (visibility 0), ten per call. */
export async function releaseMessages(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.slice(start, start + 10).map((message, i) => ({
          Id: String(i),
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}
