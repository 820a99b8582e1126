import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageSystemAttributeName,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type QueueCounts as AwsQueueCounts, queueCounts as readQueueCounts } from '@tq/aws';

let counter = 0;

/** A queue name unique within this process and run: `<base>-<pid>-<n>`. */
export function uniqueName(base = 'test'): string {
  counter += 1;
  return `${base}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** A created queue. */
export interface TestQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

/** Creates a queue (a unique name by default) and returns its URL and ARN. */
export async function createQueue(
  sqs: SQSClient,
  options: { name?: string; attributes?: Record<string, string> } = {},
): Promise<TestQueue> {
  const name = options.name ?? uniqueName();
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: options.attributes }));
  const url = created.QueueUrl as string;
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { name, url, arn: attributes.Attributes?.QueueArn as string };
}

/** Creates a queue and its dead-letter queue, linked by a redrive policy. */
export async function createQueueWithDlq(
  sqs: SQSClient,
  options: { name?: string; maxReceiveCount?: number; attributes?: Record<string, string> } = {},
): Promise<{ queue: TestQueue; dlq: TestQueue }> {
  const name = options.name ?? uniqueName();
  const fifo = name.endsWith('.fifo');
  const dlqName = fifo ? `${name.slice(0, -5)}-dlq.fifo` : `${name}-dlq`;
  const fifoAttributes: Record<string, string> = fifo ? { FifoQueue: 'true' } : {};
  const dlq = await createQueue(sqs, { name: dlqName, attributes: fifoAttributes });
  const queue = await createQueue(sqs, {
    name,
    attributes: {
      ...fifoAttributes,
      ...options.attributes,
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: options.maxReceiveCount ?? 3 }),
    },
  });
  return { queue, dlq };
}

/** Options for `waitForMessages`. */
export interface WaitForMessagesOptions {
  /** Give up after this long (default 60 s, generous for loaded machines): the error says how many arrived. */
  timeoutMs?: number;
  /** Count only messages this accepts (others are still consumed). */
  where?: (message: Message) => boolean;
  /** Delete what was received (default true), so it is not seen again. */
  delete?: boolean;
  /** Visibility timeout of the receives when not deleting (default 30 s). */
  visibilityTimeout?: number;
}

/**
 * Long-polls a queue until `count` messages (matching `where`) have arrived and returns them,
 * with all attributes. No sleeps: each receive waits on the endpoint. Throws on timeout.
 */
export async function waitForMessages(
  sqs: SQSClient,
  queueUrl: string,
  count: number,
  options: WaitForMessagesOptions = {},
): Promise<Message[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const found: Message[] = [];
  while (found.length < count) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new Error(`waited for ${count} messages on ${queueUrl}, got ${found.length}`);
    }
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, Math.max(1, count - found.length)),
        WaitTimeSeconds: Math.max(0, Math.min(20, Math.floor(remaining / 1000))),
        VisibilityTimeout: options.visibilityTimeout ?? 30,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All' as MessageSystemAttributeName],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length > 0 && options.delete !== false) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
    }
    found.push(...messages.filter((message) => options.where?.(message) ?? true));
  }
  return found;
}

/** Approximate message counts of a queue. */
export type QueueCounts = Omit<AwsQueueCounts, 'name'>;

/** Reads the approximate visible, in-flight and delayed counts of a queue (`@tq/aws` `queueCounts`). */
export async function queueCounts(sqs: SQSClient, queueUrl: string): Promise<QueueCounts> {
  const { visible, inFlight, delayed } = await readQueueCounts(sqs, queueUrl);
  return { visible, inFlight, delayed };
}
