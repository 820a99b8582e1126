import { copyQueueName, ONE_TIME_PREFIX } from '@tq/contracts';
import { idempotencyTableName, statusTableName } from '@tq/status';
import { type DesiredTopology, defineTopology, type QueueSpec, type TopologyOptions } from '@tq/topology';
import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  buildBucket,
  buildIdempotencyTable,
  buildQueues,
  buildSchedules,
  buildStatusTable,
  grantOnTable,
} from './topology-resources.js';

/** Properties of `TqTopology`. */
export interface TqTopologyProps {
  /**
   * The system to build: what `defineTopology` returns for the options `tq provision` uses (the
   * same prefix, `TQ_FIFO_TASKS`, bridge copies…), or those options. Default: `defineTopology()`.
   */
  topology?: DesiredTopology | TopologyOptions;
  /** Encrypt the artifacts bucket with this KMS key (SSE-KMS, with an S3 bucket key). Default: SSE-S3. */
  bucketKey?: kms.IKey;
  /** Encrypt every queue with this KMS key. Default: SSE-SQS (SQS-managed keys, no KMS calls). */
  queueKey?: kms.IKey;
  /**
   * Encrypt the topic with this KMS key. Default: the AWS-managed `alias/aws/sns` key. Pass a
   * key of your own when another AWS service (EventBridge Scheduler) publishes to the topic, or
   * the queues use `queueKey`: SNS must be allowed to use those keys.
   */
  topicKey?: kms.IKey;
  /** Days before an object under `tq/claim-checks/` expires. Default 14 (SQS's longest retention). */
  claimCheckExpirationDays?: number;
  /**
   * Where the artifacts bucket's server access logs go. Default: a logs bucket made here
   * (SSE-S3, TLS only, logs kept 90 days); `false` for none.
   */
  accessLogs?: s3.IBucket | false;
  /** What deleting the stack does to the bucket, queues and status table. Default RETAIN (tasks and files are data). */
  removalPolicy?: RemovalPolicy;
  /**
   * The task status table (`@tq/status`: `tq status <id>`, `producer.status(id)`), as
   * `statusTableDefinition` describes it: on-demand, TTL on `expiresAt`, no secondary index,
   * point-in-time recovery. Default true; workers then record status (`TQ_STATUS=on`).
   */
  statusTable?: boolean;
  /**
   * The idempotency table (`@tq/status`'s `idempotencyTableDefinition`: key `key`, on-demand, TTL
   * on `expiresAt`, point-in-time recovery): the records of the workers' idempotency guard (the
   * email and report workers use it by default). Default true.
   */
  idempotencyTable?: boolean;
}

/** `DesiredTopology` or `TopologyOptions`: the former has a computed `queues` array. */
function isDesired(value: DesiredTopology | TopologyOptions): value is DesiredTopology {
  return Array.isArray((value as DesiredTopology).queues) && typeof (value as DesiredTopology).topic === 'string';
}

/**
 * tq's topology as CDK resources, built from the same desired state as `tq provision`
 * (`@tq/topology`'s `defineTopology`), so the two can never describe different systems: the SNS
 * topic, a queue and a DLQ per task with the redrive policy and the registry's retention,
 * visibility and delay, FIFO variants, raw-delivery subscriptions filtered on the `task`
 * attribute (copy queues of the ActiveMQ bridge too), and the artifacts bucket. Everything is
 * encrypted at rest and refuses requests without TLS; the bucket blocks public access and expires
 * claim checks.
 */
export class TqTopology extends Construct {
  /** The desired state these resources were built from. */
  readonly desired: DesiredTopology;
  readonly topic: sns.Topic;
  /** The artifacts bucket (undefined when the topology manages none: `bucket: false`). */
  readonly bucket: s3.Bucket | undefined;
  /** Every queue, by name. */
  readonly queues: ReadonlyMap<string, sqs.Queue>;
  /** The task status table (undefined with `statusTable: false`). */
  readonly statusTable: dynamodb.Table | undefined;
  /** The idempotency table (undefined with `idempotencyTable: false`). */
  readonly idempotencyTable: dynamodb.Table | undefined;
  /** The schedule group (named after the prefix): the topology's schedules and one-time sends. */
  readonly scheduleGroup: scheduler.CfnScheduleGroup;
  /** The role EventBridge Scheduler publishes to the topic with (`sns:Publish` on it, nothing else). */
  readonly schedulerRole: iam.Role;
  /** The topology's schedules (`defineTopology({ schedules })`), by name. */
  readonly schedules: ReadonlyMap<string, scheduler.CfnSchedule>;

  constructor(scope: Construct, id: string, props: TqTopologyProps = {}) {
    super(scope, id);
    const given = props.topology ?? {};
    this.desired = isDesired(given) ? given : defineTopology(given);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.topic = new sns.Topic(this, 'Topic', {
      topicName: this.desired.topic,
      masterKey: props.topicKey ?? kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    this.queues = buildQueues(this, this.desired, this.topic, { queueKey: props.queueKey, removalPolicy });
    this.statusTable = props.statusTable === false ? undefined : buildStatusTable(this, this.prefix, removalPolicy);
    this.idempotencyTable =
      props.idempotencyTable === false ? undefined : buildIdempotencyTable(this, this.prefix, removalPolicy);
    ({
      group: this.scheduleGroup,
      role: this.schedulerRole,
      schedules: this.schedules,
    } = buildSchedules(this, this.desired, this.topic));
    this.bucket = this.desired.bucket
      ? buildBucket(this, this.desired.bucket, {
          accessLogs: props.accessLogs,
          bucketKey: props.bucketKey,
          claimCheckExpirationDays: props.claimCheckExpirationDays,
          removalPolicy,
        })
      : undefined;
  }

  /** The prefix of every name (`TQ_PREFIX`). */
  get prefix(): string {
    return this.desired.prefix;
  }

  /** A queue by its full name; throws naming the known ones when it is not part of the topology. */
  queueNamed(name: string): sqs.Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`no queue ${name} in this topology (queues: ${[...this.queues.keys()].join(', ')})`);
    return queue;
  }

  /** The spec of a task's own queue (standard or FIFO). */
  #taskSpec(task: string): QueueSpec {
    const spec = this.desired.queues.find((queue) => queue.role === 'task' && queue.task === task && !queue.consumer);
    if (!spec) throw new Error(`task ${task} is not in this topology`);
    return spec;
  }

  /** A task's own queue. */
  queueFor(task: string): sqs.Queue {
    return this.queueNamed(this.#taskSpec(task).name);
  }

  /** A task's dead-letter queue. */
  deadLetterQueueFor(task: string): sqs.Queue {
    return this.queueNamed(this.#taskSpec(task).deadLetterQueue as string);
  }

  /** A second consumer's copy queue of a task (the ActiveMQ bridge's: `consumer` `activemq`). */
  copyQueueFor(task: string, consumer: string): sqs.Queue {
    return this.queueNamed(copyQueueName(this.prefix, task, consumer));
  }

  /**
   * The environment a tq component needs to find this system without listing anything:
   * `TQ_PREFIX`, `TQ_BUCKET`, `TQ_TOPIC_ARN`, `AWS_REGION`, `TQ_STATUS`/`TQ_STATUS_TABLE` and
   * `TQ_IDEMPOTENCY_TABLE` (or `TQ_IDEMPOTENCY=off` without the table).
   */
  environment(): Record<string, string> {
    return {
      TQ_PREFIX: this.prefix,
      ...(this.desired.bucket ? { TQ_BUCKET: this.desired.bucket } : {}),
      ...(this.statusTable ? { TQ_STATUS: 'on', TQ_STATUS_TABLE: statusTableName(this.prefix) } : { TQ_STATUS: 'off' }),
      ...(this.idempotencyTable
        ? { TQ_IDEMPOTENCY_TABLE: idempotencyTableName(this.prefix) }
        : { TQ_IDEMPOTENCY: 'off' }),
      TQ_SCHEDULE_GROUP: this.prefix,
      TQ_SCHEDULER_ROLE_ARN: this.schedulerRole.roleArn,
      TQ_TOPIC_ARN: this.topic.topicArn,
      AWS_REGION: Stack.of(this).region,
    };
  }

  /** Lets `grantee` write task status (what a worker or a producer with `status: true` does). */
  grantStatusWrite(grantee: iam.IGrantable): void {
    grantOnTable(grantee, this.statusTable, ['dynamodb:BatchWriteItem', 'dynamodb:PutItem']);
  }

  /**
   * Lets `grantee` keep idempotency records (the worker's `idempotency` guard): conditional
   * `PutItem` (claim), `UpdateItem` (renew, complete), `DeleteItem` (release) and `GetItem` (why a
   * claim failed) on the idempotency table only.
   */
  grantIdempotency(grantee: iam.IGrantable): void {
    const actions = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem'];
    grantOnTable(grantee, this.idempotencyTable, actions);
  }

  /** Lets `grantee` read task status (`tq status`, `producer.status(id)`, `tq results`): queries on the table, nothing else. */
  grantStatusRead(grantee: iam.IGrantable): void {
    grantOnTable(grantee, this.statusTable, ['dynamodb:Query', 'dynamodb:GetItem']);
  }

  /**
   * Lets `grantee` send tasks for later than SQS can delay (`send(..., { at })` beyond 15
   * minutes): `scheduler:CreateSchedule` on the group's one-time schedules (`once-*`) only, and
   * passing the scheduler role to EventBridge Scheduler (and to nothing else).
   */
  grantSendLater(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    const schedules = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.prefix}/${ONE_TIME_PREFIX}*`,
    });
    const policy = iam.Grant.addToPrincipal({
      grantee,
      actions: ['scheduler:CreateSchedule'],
      resourceArns: [schedules],
    });
    this.schedulerRole.grantPassRole(grantee.grantPrincipal);
    const scope = policy.principalStatement ? grantee.grantPrincipal : undefined;
    if (scope && scope instanceof Construct) {
      Validations.of(scope).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${this.prefix}/${ONE_TIME_PREFIX}*]`,
        reason:
          "One-time schedules are named after the task id they hold (`once-<id>`), not known in advance: the grant covers only that name prefix in the topology's own group.",
      });
    }
  }

  /**
   * Lets `grantee` run the web console (`@tq/console`): read every task queue's and DLQ's counts,
   * the oldest-message metric, task status and the bucket's objects (artifacts); and, with
   * `write`, what its actions do: read, redrive and delete dead letters (receive, change
   * visibility, delete on the DLQs; send on the task queues) and send tasks (`grantSend`).
   */
  grantConsole(grantee: iam.IGrantable, options: { write?: boolean } = {}): void {
    const tasks = [
      ...new Set(
        this.desired.queues.filter((q) => q.role === 'task' && q.task && !q.consumer).map((q) => q.task as string),
      ),
    ];
    for (const task of tasks) {
      this.queueFor(task).grant(grantee, 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes');
      const dlq = this.deadLetterQueueFor(task);
      dlq.grant(grantee, 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes');
      // Reading a DLQ is receiving its messages (then making them visible again).
      dlq.grant(grantee, 'sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility');
      if (options.write) dlq.grant(grantee, 'sqs:DeleteMessage');
    }
    if (options.write) this.grantSend(grantee, tasks);
    // ApproximateAgeOfOldestMessage: CloudWatch's GetMetricStatistics has no resource to name.
    const metrics = iam.Grant.addToPrincipal({
      grantee,
      actions: ['cloudwatch:GetMetricStatistics'],
      resourceArns: ['*'],
    });
    this.grantStatusRead(grantee);
    // Artifacts open through the console: GetObject on the bucket's objects, nothing else.
    if (this.bucket) {
      iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.bucket.arnForObjects('*')] });
    }
    const scope = metrics.principalStatement ? grantee.grantPrincipal : undefined;
    if (scope && scope instanceof Construct) {
      Validations.of(scope).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason:
          'cloudwatch:GetMetricStatistics supports no resource-level permissions: the console reads only the SQS age metric with it.',
      });
      if (this.bucket) {
        const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
        Validations.of(scope).acknowledge({
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
          reason:
            'Artifact keys are not known in advance: the console may read (GetObject only) any object of the artifacts bucket, which its users see anyway as task results.',
        });
      }
    }
  }

  /**
   * Lets `grantee` send tasks of `tasks`: `sns:Publish` on the topic (and the use of its key when
   * it is one of yours), plus `sqs:SendMessage` and `sqs:GetQueueUrl` on those tasks' own queues
   * for what goes straight to a queue (FIFO tasks, per-message delays, `route: 'queue'`). No
   * `ListTopics`: give the producer `TQ_TOPIC_ARN` (see `environment()`).
   */
  grantSend(grantee: iam.IGrantable, tasks: readonly string[]): void {
    this.topic.grantPublish(grantee);
    for (const task of tasks) {
      const queue = this.queueFor(task);
      queue.grantSendMessages(grantee);
      queue.grant(grantee, 'sqs:GetQueueUrl');
    }
  }
}
