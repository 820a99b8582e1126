import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateTopicCommand,
  GetSubscriptionAttributesCommand,
  ListSubscriptionsByTopicCommand,
  ListTopicsCommand,
  SetSubscriptionAttributesCommand,
  type SNSClient,
  SubscribeCommand,
  type Subscription,
  UnsubscribeCommand,
} from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  type QueueAttributeName,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { classifyAwsError, lookupQueueUrl } from '@tq/aws';
import type { DesiredTopology, QueueSpec } from './desired.js';
import { TopologyError } from './errors.js';
import type { Change, ProvisionerOptions, ReconcileOptions } from './provisioner.js';

function awsError(action: string, cause: unknown): TopologyError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new TopologyError('AWS_ERROR', `could not ${action}: ${message}`, { cause });
}

async function call<T>(action: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    throw awsError(action, cause);
  }
}

/** Follows `NextToken` pages of a list call until the last one, collecting the items. */
async function allPages<T>(
  action: string,
  fetch: (token: string | undefined) => Promise<{ items: T[] | undefined; next: string | undefined }>,
): Promise<T[]> {
  const all: T[] = [];
  let token: string | undefined;
  do {
    const page = await call(action, () => fetch(token));
    all.push(...(page.items ?? []));
    token = page.next;
  } while (token);
  return all;
}

function isNotFound(error: unknown): boolean {
  return classifyAwsError(error) === 'not-found';
}

function queuePolicy(queueArn: string, topicArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'tq-topic-delivery',
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
      },
    ],
  });
}

function sameJson(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  try {
    return canonical(JSON.parse(a)) === canonical(JSON.parse(b));
  } catch {
    return false;
  }
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
  }
  // SQS reports maxReceiveCount as a number or a string depending on who set it.
  return JSON.stringify(typeof value === 'number' ? String(value) : value);
}

/**
 * One `plan` or `apply`: compares each part of the desired topology with what exists, in order
 * (bucket, topic, queues, subscriptions, then what `prune` removes), records every difference as a
 * `Change`, and with `write` makes it so.
 */
export class Reconciliation {
  readonly #sqs: SQSClient;
  readonly #sns: SNSClient;
  readonly #s3: S3Client;
  readonly #topology: DesiredTopology;
  readonly #write: boolean;
  readonly changes: Change[] = [];

  constructor(options: ProvisionerOptions, write: boolean) {
    this.#sqs = options.sqs;
    this.#sns = options.sns;
    this.#s3 = options.s3;
    this.#topology = options.topology;
    this.#write = write;
  }

  async run(options: ReconcileOptions): Promise<Change[]> {
    if (this.#topology.bucket) await this.#bucket(this.#topology.bucket);
    const topicArn = await this.#topic();
    const arns = await this.#queues(topicArn);
    const subscriptions = await this.#subscriptions(topicArn, arns);
    if (options.prune) await this.#prune(subscriptions, arns);
    return this.changes;
  }

  /** The artifacts bucket: created when missing. */
  async #bucket(bucket: string): Promise<void> {
    const exists = await this.#s3.send(new HeadBucketCommand({ Bucket: bucket })).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw awsError(`read bucket ${bucket}`, error);
      },
    );
    if (!exists) {
      this.changes.push({ action: 'create', resource: 'bucket', name: bucket });
      if (this.#write)
        await call(`create bucket ${bucket}`, () => this.#s3.send(new CreateBucketCommand({ Bucket: bucket })));
    }
  }

  /** The topic: found by name, created when missing (its ARN is unknown in a plan). */
  async #topic(): Promise<string | undefined> {
    let topicArn = await this.#findTopic(this.#topology.topic);
    if (!topicArn) {
      this.changes.push({ action: 'create', resource: 'topic', name: this.#topology.topic });
      if (this.#write) {
        const created = await call(`create topic ${this.#topology.topic}`, () =>
          this.#sns.send(new CreateTopicCommand({ Name: this.#topology.topic })),
        );
        topicArn = created.TopicArn;
      }
    }
    return topicArn;
  }

  /** Every queue, dead-letter queues first: task queues' redrive policies name their ARNs. */
  async #queues(topicArn: string | undefined): Promise<Map<string, string>> {
    const arns = new Map<string, string>();
    // Dead-letter queues first: task queues' redrive policies name their ARNs.
    const ordered = [...this.#topology.queues].sort((a, b) => Number(b.role === 'dlq') - Number(a.role === 'dlq'));
    for (const spec of ordered) {
      const arn = await this.#queue(spec, topicArn, arns);
      if (arn) arns.set(spec.name, arn);
    }
    return arns;
  }

  /** Raw-delivery subscriptions with the `task` filter policy, created or brought up to date. */
  async #subscriptions(topicArn: string | undefined, arns: Map<string, string>): Promise<Subscription[]> {
    const subscriptions = topicArn ? await this.#listSubscriptions(topicArn) : [];
    for (const spec of this.#topology.queues.filter((queue) => queue.subscribed)) {
      const queueArn = arns.get(spec.name);
      const existing = subscriptions.find(
        (s) => s.Protocol === 'sqs' && queueArn !== undefined && s.Endpoint === queueArn,
      );
      const wanted: Record<string, string> = { RawMessageDelivery: 'true' };
      if (spec.filterTasks) wanted.FilterPolicy = JSON.stringify({ task: [...spec.filterTasks] });
      if (!existing?.SubscriptionArn) {
        this.changes.push({
          action: 'create',
          resource: 'subscription',
          name: `${this.#topology.topic} -> ${spec.name}`,
        });
        if (this.#write && topicArn && queueArn) {
          await call(`subscribe ${spec.name}`, () =>
            this.#sns.send(
              new SubscribeCommand({
                TopicArn: topicArn,
                Protocol: 'sqs',
                Endpoint: queueArn,
                Attributes: wanted,
                ReturnSubscriptionArn: true,
              }),
            ),
          );
        }
        continue;
      }
      const subscriptionArn = existing.SubscriptionArn;
      const actual =
        (
          await call(`read subscription of ${spec.name}`, () =>
            this.#sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn })),
          )
        ).Attributes ?? {};
      const desired: Record<string, string> = { RawMessageDelivery: 'true', FilterPolicy: wanted.FilterPolicy ?? '' };
      for (const [attribute, value] of Object.entries(desired)) {
        const current = actual[attribute] || undefined;
        const same =
          attribute === 'FilterPolicy'
            ? value === ''
              ? current === undefined
              : sameJson(current, value)
            : current === value;
        if (same) continue;
        this.changes.push({
          action: 'update',
          resource: 'subscription',
          name: `${this.#topology.topic} -> ${spec.name}`,
          attribute,
          from: current,
          to: value || '(none)',
        });
        if (this.#write) {
          await call(`update subscription of ${spec.name}`, () =>
            this.#sns.send(
              new SetSubscriptionAttributesCommand({
                SubscriptionArn: subscriptionArn,
                AttributeName: attribute,
                AttributeValue: value,
              }),
            ),
          );
        }
      }
    }
    return subscriptions;
  }

  /** With `prune`: subscriptions and queues with the prefix that the desired state does not name. */
  async #prune(subscriptions: Subscription[], arns: Map<string, string>): Promise<void> {
    const desiredArns = new Set(this.#topology.queues.filter((q) => q.subscribed).map((q) => arns.get(q.name)));
    for (const subscription of subscriptions) {
      if (subscription.Protocol !== 'sqs' || desiredArns.has(subscription.Endpoint) || !subscription.SubscriptionArn)
        continue;
      this.changes.push({
        action: 'delete',
        resource: 'subscription',
        name: `${this.#topology.topic} -> ${subscription.Endpoint}`,
      });
      const arn = subscription.SubscriptionArn;
      if (this.#write)
        await call(`unsubscribe ${subscription.Endpoint}`, () =>
          this.#sns.send(new UnsubscribeCommand({ SubscriptionArn: arn })),
        );
    }
    const desiredNames = new Set(this.#topology.queues.map((queue) => queue.name));
    for (const url of await this.#listQueues(`${this.#topology.prefix}-`)) {
      const name = url.slice(url.lastIndexOf('/') + 1);
      if (desiredNames.has(name)) continue;
      this.changes.push({ action: 'delete', resource: 'queue', name });
      if (this.#write)
        await call(`delete queue ${name}`, () => this.#sqs.send(new DeleteQueueCommand({ QueueUrl: url })));
    }
  }

  /** One queue: created with its attributes, redrive and queue policy, or its attributes brought up to date. */
  async #queue(spec: QueueSpec, topicArn: string | undefined, arns: Map<string, string>): Promise<string | undefined> {
    const url = await lookupQueueUrl(this.#sqs, spec.name).catch((error: unknown) => {
      throw awsError(`look up queue ${spec.name}`, error);
    });
    const dlqArn = spec.deadLetterQueue ? arns.get(spec.deadLetterQueue) : undefined;
    const redrive =
      spec.deadLetterQueue && spec.maxReceiveCount !== undefined
        ? JSON.stringify({
            deadLetterTargetArn: dlqArn ?? `(arn of ${spec.deadLetterQueue})`,
            maxReceiveCount: spec.maxReceiveCount,
          })
        : undefined;

    if (!url) {
      this.changes.push({ action: 'create', resource: 'queue', name: spec.name });
      if (!this.#write) return undefined;
      const attributes: Record<string, string> = { ...spec.attributes };
      if (redrive) attributes.RedrivePolicy = redrive;
      const created = await call(`create queue ${spec.name}`, () =>
        this.#sqs.send(new CreateQueueCommand({ QueueName: spec.name, Attributes: attributes })),
      );
      const arn = await this.#queueArn(created.QueueUrl as string);
      if (spec.subscribed && topicArn) {
        await call(`set policy of ${spec.name}`, () =>
          this.#sqs.send(
            new SetQueueAttributesCommand({
              QueueUrl: created.QueueUrl,
              Attributes: { Policy: queuePolicy(arn, topicArn) },
            }),
          ),
        );
      }
      return arn;
    }

    const actual: Record<string, string | undefined> =
      (
        await call(`read queue ${spec.name}`, () =>
          this.#sqs.send(
            new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All' as QueueAttributeName] }),
          ),
        )
      ).Attributes ?? {};
    const arn = actual.QueueArn as string;
    if ((actual.FifoQueue === 'true') !== spec.fifo) {
      throw new TopologyError(
        'IMMUTABLE_ATTRIBUTE',
        `queue ${spec.name} exists ${spec.fifo ? 'as a standard queue' : 'as FIFO'}; SQS cannot change that: delete it or rename the task's queue`,
      );
    }
    const wanted: Record<string, string> = { ...spec.attributes };
    delete wanted.FifoQueue;
    if (redrive) wanted.RedrivePolicy = redrive;
    if (spec.subscribed && topicArn) wanted.Policy = queuePolicy(arn, topicArn);
    const updates: Record<string, string> = {};
    for (const [attribute, value] of Object.entries(wanted)) {
      const current = actual[attribute];
      const same =
        attribute === 'RedrivePolicy' || attribute === 'Policy' ? sameJson(current, value) : current === value;
      if (same) continue;
      this.changes.push({ action: 'update', resource: 'queue', name: spec.name, attribute, from: current, to: value });
      updates[attribute] = value;
    }
    if (this.#write && Object.keys(updates).length > 0) {
      await call(`update queue ${spec.name}`, () =>
        this.#sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: updates })),
      );
    }
    return arn;
  }

  async #queueArn(url: string): Promise<string> {
    const result = await call(`read queue ${url}`, () =>
      this.#sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })),
    );
    return result.Attributes?.QueueArn as string;
  }

  async #findTopic(name: string): Promise<string | undefined> {
    let token: string | undefined;
    do {
      const page = await call('list topics', () => this.#sns.send(new ListTopicsCommand({ NextToken: token })));
      const found = page.Topics?.find((topic) => topic.TopicArn?.endsWith(`:${name}`));
      if (found?.TopicArn) return found.TopicArn;
      token = page.NextToken;
    } while (token);
    return undefined;
  }

  #listSubscriptions(topicArn: string): Promise<Subscription[]> {
    return allPages('list subscriptions', async (token) => {
      const page = await this.#sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token }));
      return { items: page.Subscriptions, next: page.NextToken };
    });
  }

  #listQueues(prefix: string): Promise<string[]> {
    return allPages('list queues', async (token) => {
      const page = await this.#sqs.send(
        new ListQueuesCommand({ QueueNamePrefix: prefix, NextToken: token, MaxResults: 1000 }),
      );
      return { items: page.QueueUrls, next: page.NextToken };
    });
  }
}
