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

/** One difference between the desired and the actual state, and what `apply` does about it. */
export type Change =
  | { action: 'create'; resource: 'bucket' | 'topic' | 'queue' | 'subscription'; name: string }
  | {
      action: 'update';
      resource: 'queue' | 'subscription';
      name: string;
      attribute: string;
      from: string | undefined;
      to: string;
    }
  | { action: 'delete'; resource: 'queue' | 'subscription'; name: string };

/** What `createProvisioner` takes. */
export interface ProvisionerOptions {
  sqs: SQSClient;
  sns: SNSClient;
  s3: S3Client;
  topology: DesiredTopology;
}

/** Options of `plan` and `apply`. */
export interface ReconcileOptions {
  /** Also delete queues with the prefix and topic subscriptions that the desired state does not name. */
  prune?: boolean;
}

/** Compares and converges the desired topology with what exists. */
export interface Provisioner {
  /** Lists the changes `apply` would make. Reads only. */
  plan(options?: ReconcileOptions): Promise<Change[]>;
  /** Creates and updates (and with `prune`, deletes) until the actual state is the desired one; returns what it changed. Idempotent. */
  apply(options?: ReconcileOptions): Promise<Change[]>;
}

/** Human-readable one-line form of a change, as `tq provision` prints it. */
export function describeChange(change: Change): string {
  switch (change.action) {
    case 'create':
      return `+ create ${change.resource} ${change.name}`;
    case 'update':
      return `~ update ${change.resource} ${change.name}: ${change.attribute} ${change.from ?? '(unset)'} -> ${change.to}`;
    case 'delete':
      return `- delete ${change.resource} ${change.name}`;
  }
}

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
 * Creates a provisioner for a desired topology. Order of `apply`: bucket, topic, dead-letter
 * queues, task queues (redrive policy, and the queue policy with an `aws:SourceArn` condition
 * that lets only this topic deliver), subscriptions (raw delivery, `task` filter policy).
 * Nothing is deleted unless `prune` is asked for. Throws `TopologyError` when AWS refuses a
 * call (`AWS_ERROR`) or an existing queue differs in FIFO-ness (`IMMUTABLE_ATTRIBUTE`).
 */
export function createProvisioner({ sqs, sns, s3, topology }: ProvisionerOptions): Provisioner {
  async function reconcile(write: boolean, options: ReconcileOptions = {}): Promise<Change[]> {
    const changes: Change[] = [];

    if (topology.bucket) {
      const bucket = topology.bucket;
      const exists = await s3.send(new HeadBucketCommand({ Bucket: bucket })).then(
        () => true,
        (error: unknown) => {
          if (
            isNotFound(error) ||
            (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
          )
            return false;
          throw awsError(`read bucket ${bucket}`, error);
        },
      );
      if (!exists) {
        changes.push({ action: 'create', resource: 'bucket', name: bucket });
        if (write) await call(`create bucket ${bucket}`, () => s3.send(new CreateBucketCommand({ Bucket: bucket })));
      }
    }

    let topicArn = await findTopic(topology.topic);
    if (!topicArn) {
      changes.push({ action: 'create', resource: 'topic', name: topology.topic });
      if (write) {
        const created = await call(`create topic ${topology.topic}`, () =>
          sns.send(new CreateTopicCommand({ Name: topology.topic })),
        );
        topicArn = created.TopicArn;
      }
    }

    const arns = new Map<string, string>();
    // Dead-letter queues first: task queues' redrive policies name their ARNs.
    const ordered = [...topology.queues].sort((a, b) => Number(b.role === 'dlq') - Number(a.role === 'dlq'));
    for (const spec of ordered) {
      const arn = await reconcileQueue(spec, topicArn, arns, write, changes);
      if (arn) arns.set(spec.name, arn);
    }

    const subscriptions = topicArn ? await listSubscriptions(topicArn) : [];
    for (const spec of topology.queues.filter((queue) => queue.subscribed)) {
      const queueArn = arns.get(spec.name);
      const existing = subscriptions.find(
        (s) => s.Protocol === 'sqs' && queueArn !== undefined && s.Endpoint === queueArn,
      );
      const wanted: Record<string, string> = { RawMessageDelivery: 'true' };
      if (spec.filterTasks) wanted.FilterPolicy = JSON.stringify({ task: [...spec.filterTasks] });
      if (!existing?.SubscriptionArn) {
        changes.push({ action: 'create', resource: 'subscription', name: `${topology.topic} -> ${spec.name}` });
        if (write && topicArn && queueArn) {
          await call(`subscribe ${spec.name}`, () =>
            sns.send(
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
            sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn })),
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
        changes.push({
          action: 'update',
          resource: 'subscription',
          name: `${topology.topic} -> ${spec.name}`,
          attribute,
          from: current,
          to: value || '(none)',
        });
        if (write) {
          await call(`update subscription of ${spec.name}`, () =>
            sns.send(
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

    if (options.prune) {
      const desiredArns = new Set(topology.queues.filter((q) => q.subscribed).map((q) => arns.get(q.name)));
      for (const subscription of subscriptions) {
        if (subscription.Protocol !== 'sqs' || desiredArns.has(subscription.Endpoint) || !subscription.SubscriptionArn)
          continue;
        changes.push({
          action: 'delete',
          resource: 'subscription',
          name: `${topology.topic} -> ${subscription.Endpoint}`,
        });
        const arn = subscription.SubscriptionArn;
        if (write)
          await call(`unsubscribe ${subscription.Endpoint}`, () =>
            sns.send(new UnsubscribeCommand({ SubscriptionArn: arn })),
          );
      }
      const desiredNames = new Set(topology.queues.map((queue) => queue.name));
      for (const url of await listQueues(`${topology.prefix}-`)) {
        const name = url.slice(url.lastIndexOf('/') + 1);
        if (desiredNames.has(name)) continue;
        changes.push({ action: 'delete', resource: 'queue', name });
        if (write) await call(`delete queue ${name}`, () => sqs.send(new DeleteQueueCommand({ QueueUrl: url })));
      }
    }
    return changes;
  }

  async function reconcileQueue(
    spec: QueueSpec,
    topicArn: string | undefined,
    arns: Map<string, string>,
    write: boolean,
    changes: Change[],
  ): Promise<string | undefined> {
    const url = await lookupQueueUrl(sqs, spec.name).catch((error: unknown) => {
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
      changes.push({ action: 'create', resource: 'queue', name: spec.name });
      if (!write) return undefined;
      const attributes: Record<string, string> = { ...spec.attributes };
      if (redrive) attributes.RedrivePolicy = redrive;
      const created = await call(`create queue ${spec.name}`, () =>
        sqs.send(new CreateQueueCommand({ QueueName: spec.name, Attributes: attributes })),
      );
      const arn = await queueArn(created.QueueUrl as string);
      if (spec.subscribed && topicArn) {
        await call(`set policy of ${spec.name}`, () =>
          sqs.send(
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
          sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All' as QueueAttributeName] })),
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
      changes.push({ action: 'update', resource: 'queue', name: spec.name, attribute, from: current, to: value });
      updates[attribute] = value;
    }
    if (write && Object.keys(updates).length > 0) {
      await call(`update queue ${spec.name}`, () =>
        sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: updates })),
      );
    }
    return arn;
  }

  async function queueArn(url: string): Promise<string> {
    const result = await call(`read queue ${url}`, () =>
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })),
    );
    return result.Attributes?.QueueArn as string;
  }

  async function findTopic(name: string): Promise<string | undefined> {
    let token: string | undefined;
    do {
      const page = await call('list topics', () => sns.send(new ListTopicsCommand({ NextToken: token })));
      const found = page.Topics?.find((topic) => topic.TopicArn?.endsWith(`:${name}`));
      if (found?.TopicArn) return found.TopicArn;
      token = page.NextToken;
    } while (token);
    return undefined;
  }

  function listSubscriptions(topicArn: string): Promise<Subscription[]> {
    return allPages('list subscriptions', async (token) => {
      const page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token }));
      return { items: page.Subscriptions, next: page.NextToken };
    });
  }

  function listQueues(prefix: string): Promise<string[]> {
    return allPages('list queues', async (token) => {
      const page = await sqs.send(
        new ListQueuesCommand({ QueueNamePrefix: prefix, NextToken: token, MaxResults: 1000 }),
      );
      return { items: page.QueueUrls, next: page.NextToken };
    });
  }

  return {
    plan: (options) => reconcile(false, options),
    apply: (options) => reconcile(true, options),
  };
}
