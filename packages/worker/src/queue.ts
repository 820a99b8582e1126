import {
  type BatchResultErrorEntry,
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { copyMessageAttributes, lookupQueueUrl, MAX_MESSAGE_ATTRIBUTES, parseRedrivePolicy } from '@tq/aws';
import { FAILURE_ATTRIBUTES, queueName } from '@tq/contracts';
import { Batcher, type EntryFailure } from './batcher.js';
import { WorkerError } from './errors.js';

/**
 * The system attributes a receive asks for, each because the runtime uses it: the attempt
 * number, the first failure time of a dead letter, the flat form's `createdAt`, FIFO order.
 */
const SYSTEM_ATTRIBUTES = [
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SentTimestamp',
  'MessageGroupId',
] as const;

const FAILURE_NAMES: ReadonlySet<string> = new Set(Object.values(FAILURE_ATTRIBUTES));
/** SQS allows 10 message attributes; the reason attributes take this many. */
const REASON_ATTRIBUTE_COUNT = FAILURE_NAMES.size;
const MAX_REASON_LENGTH = 1024;

/** What a delete needs: the receipt handle (a held message is one). */
export interface Deletable {
  receiptHandle: string;
}

interface VisibilityChange {
  receiptHandle: string;
  seconds: number;
}

/** Why a message is dead-lettered, as its reason attributes say. */
export interface DeadLetterReason {
  code: string;
  reason: string;
  attempt: number;
  firstFailureAt: Date;
}

function batchFailures(failed: BatchResultErrorEntry[] | undefined): Map<string, EntryFailure> {
  const failures = new Map<string, EntryFailure>();
  for (const entry of failed ?? []) {
    if (!entry.Id) continue;
    failures.set(entry.Id, {
      code: entry.Code ?? 'Unknown',
      message: entry.Message ?? '',
      // A handle that expired can never be fixed by retrying, whatever SQS says.
      senderFault: entry.SenderFault === true || /ReceiptHandle/i.test(entry.Code ?? ''),
    });
  }
  return failures;
}

/**
 * The SQS side of one task queue: finding it and its dead-letter queue, receiving, batched
 * deletes and visibility changes, and dead-letter sends with the reason attached. Knows nothing
 * of handlers or policy.
 */
export class TaskQueue {
  readonly #sqs: SQSClient;
  readonly #receiver: SQSClient;
  /** Per-call options of receives: the poll-abort signal, unless the receiver carries it itself. */
  readonly #receiveOptions: { abortSignal: AbortSignal } | undefined;
  readonly #deletes: Batcher<Deletable>;
  readonly #visibility: Batcher<VisibilityChange>;
  url = '';
  deadLetterUrl = '';
  maxReceiveCount: number | undefined;

  constructor(clients: {
    sqs: SQSClient;
    receiver: SQSClient;
    receiveOptions: { abortSignal: AbortSignal } | undefined;
  }) {
    this.#sqs = clients.sqs;
    this.#receiver = clients.receiver;
    this.#receiveOptions = clients.receiveOptions;
    this.#deletes = new Batcher<Deletable>({
      send: async (entries) => {
        const out = await this.#sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.url,
            Entries: entries.map(({ id, item }) => ({ Id: id, ReceiptHandle: item.receiptHandle })),
          }),
        );
        return batchFailures(out.Failed);
      },
      // Deletes wait up to 10 ms for company: nothing waits on them (the slot is free already),
      // and at a few hundred tasks a second the calls carry whole batches.
      windowMs: 10,
    });
    this.#visibility = new Batcher<VisibilityChange>({
      send: async (entries) => {
        const out = await this.#sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.url,
            Entries: entries.map(({ id, item }) => ({
              Id: id,
              ReceiptHandle: item.receiptHandle,
              VisibilityTimeout: item.seconds,
            })),
          }),
        );
        return batchFailures(out.Failed);
      },
    });
  }

  get fifo(): boolean {
    return this.url.endsWith('.fifo');
  }

  /**
   * Finds the queue (`given.queueUrl`, else `<prefix>-<task>`, or `<prefix>-<task>.fifo`, by name) and its dead-letter queue
   * (`given.deadLetterQueueUrl`, else the redrive policy's target), and the policy's
   * `maxReceiveCount`. Throws `WorkerError` (`QUEUE_NOT_FOUND`, `NO_DEAD_LETTER_QUEUE`).
   */
  async resolve(
    task: string,
    prefix: string,
    fifo: boolean,
    given: { queueUrl?: string; deadLetterQueueUrl?: string; queueName?: string },
  ): Promise<void> {
    this.url = given.queueUrl ?? '';
    this.deadLetterUrl = given.deadLetterQueueUrl ?? '';
    if (!this.url) {
      const name = given.queueName ?? queueName(prefix, task, fifo);
      const url = await lookupQueueUrl(this.#sqs, name);
      if (url === undefined) {
        const how = fifo ? `run \`tq provision\` with ${task} in TQ_FIFO_TASKS` : 'run `tq provision`';
        throw new WorkerError('QUEUE_NOT_FOUND', `queue ${name} does not exist: ${how}`);
      }
      this.url = url;
    }
    const attributes = await this.#sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.url, AttributeNames: ['RedrivePolicy'] }),
    );
    const policy = parseRedrivePolicy(attributes.Attributes?.RedrivePolicy);
    this.maxReceiveCount = policy?.maxReceiveCount;
    if (!this.deadLetterUrl && policy) {
      const { name, account } = policy.deadLetterQueue;
      this.deadLetterUrl = (await lookupQueueUrl(this.#sqs, name, { ownerAccount: account })) ?? '';
    }
    if (!this.deadLetterUrl) {
      throw new WorkerError(
        'NO_DEAD_LETTER_QUEUE',
        `queue ${this.url} has no redrive policy and no deadLetterQueueUrl was given: messages that can never succeed would have nowhere to go (run \`tq provision\`)`,
      );
    }
  }

  /** One receive call: up to `count` messages, hidden for `visibilitySeconds`. */
  async receive(count: number, waitSeconds: number, visibilitySeconds: number): Promise<Message[]> {
    const out = await this.#receiver.send(
      new ReceiveMessageCommand({
        QueueUrl: this.url,
        MaxNumberOfMessages: count,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: visibilitySeconds,
        MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
        MessageAttributeNames: ['All'],
      }),
      this.#receiveOptions,
    );
    return out.Messages ?? [];
  }

  /** Deletes a message in the next batch; `done` hears how it went, with the message (no promise per delete). */
  delete<T extends Deletable>(message: T, done: (error: unknown, message: T) => void): void {
    this.#deletes.push(message, done as (error: unknown, message: Deletable) => void);
  }

  /** Sets a message's visibility timeout in the next batch. */
  changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    return this.#visibility.add({ receiptHandle, seconds });
  }

  /**
   * Sends a copy of `message` to the dead-letter queue with the reason attributes, keeping its
   * own attributes (routing ones first, when all ten slots are taken). Throws when the DLQ
   * refused it; the caller deletes the original only once this resolved.
   */
  async deadLetter(message: Message, reason: DeadLetterReason, groupId: string | undefined): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = {
      ...copyMessageAttributes(message.MessageAttributes, {
        drop: FAILURE_NAMES,
        max: MAX_MESSAGE_ATTRIBUTES - REASON_ATTRIBUTE_COUNT,
        first: ['task', 'version'],
      }),
      [FAILURE_ATTRIBUTES.code]: { DataType: 'String', StringValue: reason.code },
      [FAILURE_ATTRIBUTES.message]: {
        DataType: 'String',
        StringValue: reason.reason.slice(0, MAX_REASON_LENGTH) || reason.code,
      },
      [FAILURE_ATTRIBUTES.sourceQueue]: { DataType: 'String', StringValue: this.url },
      [FAILURE_ATTRIBUTES.receiveCount]: { DataType: 'Number', StringValue: String(reason.attempt) },
      [FAILURE_ATTRIBUTES.firstFailureAt]: { DataType: 'String', StringValue: reason.firstFailureAt.toISOString() },
    };
    const fifo = this.deadLetterUrl.endsWith('.fifo');
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterUrl,
        MessageBody: message.Body ?? '',
        MessageAttributes: attributes,
        ...(fifo
          ? { MessageGroupId: groupId ?? 'tq-dead-letter', MessageDeduplicationId: message.MessageId ?? '' }
          : {}),
      }),
    );
  }

  /** Deletes a message now (after dead-lettering), resolving when SQS confirmed it. */
  deleteNow(message: Deletable): Promise<void> {
    return this.#deletes.add(message);
  }

  /** Sends every delete and visibility change still waiting. */
  async flush(): Promise<void> {
    await Promise.all([this.#deletes.flush(), this.#visibility.flush()]);
  }
}
