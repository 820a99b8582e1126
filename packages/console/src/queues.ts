import { type CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { findQueuePair, lookupQueueUrl, queueCounts, REDRIVE_SYSTEM_ATTRIBUTES, redriveEntry } from '@tq/aws';
import { dlqName, FAILURE_ATTRIBUTES, parseTask, queueName, type TaskRegistry } from '@tq/contracts';

/** Counts of one queue, as `GetQueueAttributes` reports them. */
export interface QueueCounts {
  name: string;
  visible: number;
  inFlight: number;
  delayed: number;
  /** CloudWatch's `ApproximateAgeOfOldestMessage` (seconds); undefined where there is no CloudWatch. */
  oldestSeconds: number | undefined;
}

/** A task queue and its DLQ, or why they cannot be read. */
export interface TaskQueueStats {
  task: string;
  queue: QueueCounts | undefined;
  dlq: QueueCounts | undefined;
  error?: string;
}

const FAILURE_NAMES: ReadonlySet<string> = new Set(Object.values(FAILURE_ATTRIBUTES));

/** The oldest message's age of a queue by name, and whether CloudWatch answered so far. */
export interface OldestAgeLookup {
  lookup(name: string): Promise<number | undefined>;
  available(): boolean;
}

/**
 * The age of a queue's oldest message exists only as the CloudWatch metric
 * `ApproximateAgeOfOldestMessage` (reading messages to find it would count as receives and push
 * them towards the DLQ). Endpoints without CloudWatch (the local one) answer nothing: after the
 * first failure the lookup stops asking. Without a client, there is no age.
 */
export function oldestAgeLookup(cloudwatch: CloudWatchClient | undefined): OldestAgeLookup {
  let available = cloudwatch !== undefined;
  return {
    available: () => available,
    async lookup(name) {
      if (!cloudwatch || !available) return undefined;
      try {
        const now = Date.now();
        const out = await cloudwatch.send(
          new GetMetricStatisticsCommand({
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateAgeOfOldestMessage',
            Dimensions: [{ Name: 'QueueName', Value: name }],
            StartTime: new Date(now - 10 * 60_000),
            EndTime: new Date(now),
            Period: 60,
            Statistics: ['Maximum'],
          }),
        );
        const latest = (out.Datapoints ?? []).sort(
          (a, b) => (b.Timestamp?.getTime() ?? 0) - (a.Timestamp?.getTime() ?? 0),
        )[0];
        return latest?.Maximum;
      } catch {
        available = false;
        return undefined;
      }
    },
  };
}

/** A queue's counts (`GetQueueAttributes`) and its oldest message's age (CloudWatch, when there). */
export async function readQueueCounts(sqs: SQSClient, url: string, oldest: OldestAgeLookup): Promise<QueueCounts> {
  const counts = await queueCounts(sqs, url);
  return { ...counts, oldestSeconds: await oldest.lookup(counts.name) };
}

/**
 * Reads the queues of a prefix: URLs looked up once, counts on every call, the oldest message's age
 * from CloudWatch where there is one (the local endpoint has none: it is tried once).
 */
export class QueueReader {
  readonly #sqs: SQSClient;
  readonly #oldest: OldestAgeLookup;
  readonly #prefix: string;
  readonly #urls = new Map<string, Promise<string | undefined>>();

  constructor(options: { sqs: SQSClient; cloudwatch?: CloudWatchClient; prefix: string }) {
    this.#sqs = options.sqs;
    this.#oldest = oldestAgeLookup(options.cloudwatch);
    this.#prefix = options.prefix;
  }

  get prefix(): string {
    return this.#prefix;
  }

  /** A queue's URL by name; undefined when it does not exist (looked up again next time). */
  url(name: string): Promise<string | undefined> {
    let url = this.#urls.get(name);
    if (!url) {
      url = lookupQueueUrl(this.#sqs, name).then(
        (found) => {
          if (found === undefined) this.#urls.delete(name);
          return found;
        },
        (error: unknown) => {
          this.#urls.delete(name);
          throw error;
        },
      );
      this.#urls.set(name, url);
    }
    return url;
  }

  /** A task's queue by its standard name, else its FIFO one (`<prefix>-<task>.fifo`), with its DLQ's name. */
  async taskQueue(task: string): Promise<{ url: string | undefined; name: string; dlq: string }> {
    const standard = queueName(this.#prefix, task);
    const url = await this.url(standard);
    if (url) return { url, name: standard, dlq: dlqName(this.#prefix, task) };
    const fifo = queueName(this.#prefix, task, true);
    const fifoUrl = await this.url(fifo);
    return fifoUrl
      ? { url: fifoUrl, name: fifo, dlq: dlqName(this.#prefix, task, true) }
      : { url: undefined, name: standard, dlq: dlqName(this.#prefix, task) };
  }

  async #counts(name: string): Promise<QueueCounts | undefined> {
    const url = await this.url(name);
    return url ? await readQueueCounts(this.#sqs, url, this.#oldest) : undefined;
  }

  /** Every task queue of the registry with its DLQ. */
  async overview(tasks: readonly string[]): Promise<TaskQueueStats[]> {
    return await Promise.all(
      tasks.map(async (task) => {
        try {
          const found = await this.taskQueue(task);
          const [queue, dlq] = await Promise.all([
            found.url ? readQueueCounts(this.#sqs, found.url, this.#oldest) : undefined,
            this.#counts(found.dlq),
          ]);
          return { task, queue, dlq };
        } catch (error) {
          return { task, queue: undefined, dlq: undefined, error: (error as Error).message };
        }
      }),
    );
  }
}

/** A dead letter as the console lists it. */
export interface DeadLetter {
  messageId: string;
  code: string;
  reason: string | undefined;
  sourceQueue: string | undefined;
  attempts: number | undefined;
  firstFailureAt: string | undefined;
  sentAt: string | undefined;
  body: string;
  /** Where the body breaks the task's schema (JSON Pointers), for the page to highlight. */
  violations: { path: string; message: string }[];
}

/** A DLQ read through: its messages by code, as of `scannedAt`. */
export interface DeadLetterScan {
  task: string;
  scannedAt: string;
  /** Messages the DLQ held when the scan started (`ApproximateNumberOfMessages`). */
  total: number;
  /** Messages read (at most `limit`). */
  read: DeadLetter[];
  codes: { code: string; count: number }[];
}

/** What `redrive` and `remove` did. */
export interface DeadLetterAction {
  moved: number;
  deleted: number;
  /** Wanted but not found in the DLQ any more (redriven or deleted by someone else). */
  missing: string[];
}

/** Dead letters counted by code, most frequent first. */
export function countCodes(letters: readonly DeadLetter[]): { code: string; count: number }[] {
  const byCode = new Map<string, number>();
  for (const letter of letters) byCode.set(letter.code, (byCode.get(letter.code) ?? 0) + 1);
  return [...byCode].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count);
}

function describe(message: Message, task: string, registry: TaskRegistry | undefined): DeadLetter {
  const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue;
  const sent = Number(message.Attributes?.SentTimestamp);
  const body = message.Body ?? '';
  const parsed = parseTask(body, {
    ...(registry ? { registry } : {}),
    defaults: { id: message.MessageId },
  });
  const violations = parsed.ok ? [] : parsed.error.violations.map((v) => ({ path: v.path, message: v.message }));
  if (parsed.ok && parsed.envelope.task !== task) {
    violations.push({ path: '/task', message: `a ${parsed.envelope.task} task on the ${task} DLQ` });
  }
  const attempts = Number(attribute(FAILURE_ATTRIBUTES.receiveCount) ?? message.Attributes?.ApproximateReceiveCount);
  return {
    messageId: message.MessageId ?? '',
    code: attribute(FAILURE_ATTRIBUTES.code) ?? 'UNKNOWN',
    reason: attribute(FAILURE_ATTRIBUTES.message),
    sourceQueue: attribute(FAILURE_ATTRIBUTES.sourceQueue),
    attempts: Number.isFinite(attempts) ? attempts : undefined,
    firstFailureAt: attribute(FAILURE_ATTRIBUTES.firstFailureAt),
    sentAt: Number.isFinite(sent) ? new Date(sent).toISOString() : undefined,
    body,
    violations,
  };
}

/**
 * Dead-letter queue operations. Reading a DLQ means receiving its messages: they are held
 * (invisible) while the scan runs, so each is read once, then all made visible again at once. A
 * scan or an action looks at no more messages than the DLQ held when it started, so it ends even
 * if workers dead-letter more meanwhile.
 */
export class DeadLetters {
  readonly #sqs: SQSClient;
  readonly #queues: QueueReader;
  readonly #registry: TaskRegistry | undefined;

  constructor(options: { sqs: SQSClient; queues: QueueReader; registry?: TaskRegistry }) {
    this.#sqs = options.sqs;
    this.#queues = options.queues;
    this.#registry = options.registry;
  }

  async #dlq(task: string): Promise<{ url: string; queueUrl: string; fifo: boolean }> {
    const prefix = this.#queues.prefix;
    const pair = await findQueuePair(
      this.#sqs,
      {
        standard: queueName(prefix, task),
        fifo: queueName(prefix, task, true),
        dlq: (fifo) => dlqName(prefix, task, fifo),
      },
      'run tq provision',
    );
    return { url: pair.dlqUrl, queueUrl: pair.queueUrl, fifo: pair.fifo };
  }

  async #depth(url: string): Promise<number> {
    const out = await this.#sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  /**
   * Reads up to `limit` messages of the DLQ, visiting each once (`visit`), holding the read ones for
   * `holdSeconds`; returns the held messages whose handles `settle` did not consume, to release.
   */
  async #walk(
    url: string,
    limit: number,
    visit: (messages: Message[], total: number) => Promise<Message[]>,
  ): Promise<{ total: number }> {
    const total = await this.#depth(url);
    const bound = Math.min(total, limit);
    const held: Message[] = [];
    let seen = 0;
    let empty = 0;
    try {
      while (seen < bound && empty < 2) {
        const { Messages = [] } = await this.#sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: Math.min(10, bound - seen),
            VisibilityTimeout: 120,
            WaitTimeSeconds: 0,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['SentTimestamp', ...REDRIVE_SYSTEM_ATTRIBUTES],
          }),
        );
        if (Messages.length === 0) {
          empty += 1;
          continue;
        }
        empty = 0;
        seen += Messages.length;
        held.push(...(await visit(Messages, total)));
      }
    } finally {
      await this.#release(url, held);
    }
    return { total };
  }

  async #release(url: string, messages: Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const batch = messages.slice(i, i + 10);
      await this.#sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: batch.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle ?? '',
              VisibilityTimeout: 0,
            })),
          }),
        )
        .catch(() => undefined); // they come back by themselves after the hold
    }
  }

  /**
   * Reads the DLQ of `task` (up to `limit` messages) and groups it by `tq-error-code`; `progress`
   * hears the messages read so far after every receive, so a page can show them while it reads.
   */
  async scan(
    task: string,
    limit = 10_000,
    progress?: (read: readonly DeadLetter[], total: number) => void,
  ): Promise<DeadLetterScan> {
    const { url } = await this.#dlq(task);
    const read: DeadLetter[] = [];
    const { total } = await this.#walk(url, limit, async (messages, total) => {
      for (const message of messages) read.push(describe(message, task, this.#registry));
      progress?.(read, total);
      return messages;
    });
    return { task, scannedAt: new Date().toISOString(), total, read, codes: countCodes(read) };
  }

  /**
   * Moves the chosen dead letters (by message id, or all of a code) back to the task queue: the
   * body as it is (or `replaceBody`, already validated by the caller) and its routing attributes,
   * without the failure ones; sent, then deleted from the DLQ (a crash between the two can
   * duplicate, never lose).
   */
  async redrive(
    task: string,
    pick: { messageIds?: readonly string[]; code?: string },
    replaceBody?: string,
  ): Promise<DeadLetterAction> {
    const { url, queueUrl, fifo } = await this.#dlq(task);
    return await this.#act(url, task, pick, async (chosen) => {
      const sent = await this.#sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          // On a FIFO queue each keeps its message group (and gets a deduplication id).
          Entries: chosen.map((message, index) =>
            redriveEntry(message, {
              id: String(index),
              fifo,
              drop: FAILURE_NAMES,
              ...(replaceBody !== undefined ? { body: replaceBody } : {}),
            }),
          ),
        }),
      );
      return (sent.Successful ?? []).map((entry) => chosen[Number(entry.Id)] as Message);
    });
  }

  /** Deletes the chosen dead letters for good. */
  async remove(task: string, pick: { messageIds?: readonly string[]; code?: string }): Promise<DeadLetterAction> {
    const { url } = await this.#dlq(task);
    return await this.#act(url, task, pick, async (chosen) => chosen);
  }

  async #act(
    url: string,
    task: string,
    pick: { messageIds?: readonly string[]; code?: string },
    carry: (chosen: Message[]) => Promise<Message[]>,
  ): Promise<DeadLetterAction> {
    const wanted = new Set(pick.messageIds ?? []);
    const matches = (message: Message) =>
      pick.code !== undefined
        ? (message.MessageAttributes?.[FAILURE_ATTRIBUTES.code]?.StringValue ?? 'UNKNOWN') === pick.code
        : wanted.has(message.MessageId ?? '');
    let moved = 0;
    const found = new Set<string>();
    await this.#walk(url, 100_000, async (messages) => {
      const chosen = messages.filter(matches);
      const rest = messages.filter((message) => !matches(message));
      if (chosen.length === 0) return rest;
      const done = await carry(chosen);
      if (done.length > 0) {
        await this.#sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle ?? '' })),
          }),
        );
      }
      for (const message of done) found.add(message.MessageId ?? '');
      moved += done.length;
      // What could not be carried is released with the rest.
      return [...rest, ...chosen.filter((message) => !done.includes(message))];
    });
    void task;
    return { moved, deleted: moved, missing: [...wanted].filter((id) => !found.has(id)) };
  }
}
