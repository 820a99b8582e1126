import { ListTopicsCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { lookupQueueUrl } from '@tq/aws';
import { queueName, topicName } from '@tq/contracts';
import { fromAwsError, ProducerError } from './errors.js';

/**
 * Where tasks go: the topic's ARN and each queue's URL, looked up on first use and cached (a
 * failed lookup is forgotten, so the next send tries again). Creating one makes no calls.
 */
export class Destinations {
  readonly #sqs: SQSClient;
  readonly #sns: SNSClient;
  readonly #prefix: string;
  #topicArn: Promise<string> | undefined;
  readonly #queueUrls: Map<string, Promise<string>>;

  constructor(options: {
    sqs: SQSClient;
    sns: SNSClient;
    prefix: string;
    topicArn?: string | undefined;
    queueUrls?: Partial<Record<string, string>> | undefined;
  }) {
    this.#sqs = options.sqs;
    this.#sns = options.sns;
    this.#prefix = options.prefix;
    this.#topicArn = options.topicArn ? Promise.resolve(options.topicArn) : undefined;
    this.#queueUrls = new Map(
      Object.entries(options.queueUrls ?? {}).flatMap(([task, url]) => (url ? [[task, Promise.resolve(url)]] : [])),
    );
  }

  /** The `<prefix>-tasks` topic's ARN. Rejects with `ProducerError` (`TOPIC_NOT_FOUND`, ...). */
  topic = (): Promise<string> => {
    const name = topicName(this.#prefix);
    this.#topicArn ??= (async () => {
      let token: string | undefined;
      do {
        const page = await this.#sns.send(new ListTopicsCommand({ NextToken: token }));
        const found = page.Topics?.find((topic) => topic.TopicArn?.endsWith(`:${name}`))?.TopicArn;
        if (found) return found;
        token = page.NextToken;
      } while (token);
      throw new ProducerError(
        'TOPIC_NOT_FOUND',
        `topic ${name} does not exist: run \`tq provision\` (prefix "${this.#prefix}")`,
      );
    })().catch((error: unknown) => {
      this.#topicArn = undefined;
      throw error instanceof ProducerError ? error : fromAwsError(error, `topic ${name}`);
    });
    return this.#topicArn;
  };

  /** A task's queue URL (`.fifo` variant with `fifo`). Rejects with `ProducerError` (`QUEUE_NOT_FOUND`, ...). */
  queue(task: string, fifo: boolean): Promise<string> {
    const key = fifo ? `${task}.fifo` : task;
    const cached = this.#queueUrls.get(key);
    if (cached !== undefined) return cached;
    const name = queueName(this.#prefix, task, fifo);
    const lookup = lookupQueueUrl(this.#sqs, name).then(
      (url) => {
        if (url !== undefined) return url;
        this.#queueUrls.delete(key);
        const how = fifo
          ? `a message group needs the task's FIFO queue; list ${task} in TQ_FIFO_TASKS and run \`tq provision\``
          : 'run `tq provision`';
        throw new ProducerError('QUEUE_NOT_FOUND', `queue ${name} does not exist: ${how} (prefix "${this.#prefix}")`);
      },
      (error: unknown) => {
        this.#queueUrls.delete(key);
        throw fromAwsError(error, `queue ${name}`);
      },
    );
    this.#queueUrls.set(key, lookup);
    return lookup;
  }
}
