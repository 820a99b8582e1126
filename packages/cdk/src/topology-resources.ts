// The resources `TqTopology` is made of, one builder each, from the desired state of `@tq/topology`.
import { CLAIM_CHECK_PREFIX } from '@tq/contracts';
import {
  IDEMPOTENCY_TTL_ATTRIBUTE,
  idempotencyTableDefinition,
  idempotencyTableName,
  STATUS_TTL_ATTRIBUTE,
  statusTableDefinition,
  statusTableName,
} from '@tq/status';
import { checkDeployable, type DesiredTopology, type QueueSpec, scheduleRequest } from '@tq/topology';
import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

const seconds = (spec: QueueSpec, attribute: string): Duration | undefined => {
  const value = spec.attributes[attribute];
  return value === undefined ? undefined : Duration.seconds(Number(value));
};

/**
 * Every queue of the desired state, DLQs first (each task queue's redrive policy points at its
 * DLQ), encrypted, TLS-only, and subscribed to the topic with raw delivery and the `task` filter
 * where the spec says so.
 */
export function buildQueues(
  scope: Construct,
  desired: DesiredTopology,
  topic: sns.Topic,
  options: { queueKey: kms.IKey | undefined; removalPolicy: RemovalPolicy },
): Map<string, sqs.Queue> {
  const queues = new Map<string, sqs.Queue>();
  const ordered = [...desired.queues].sort((a, b) => Number(b.role === 'dlq') - Number(a.role === 'dlq'));
  for (const spec of ordered) {
    const deadLetterQueue = spec.deadLetterQueue ? queues.get(spec.deadLetterQueue) : undefined;
    const queue = new sqs.Queue(scope, `Queue-${spec.name}`, {
      queueName: spec.name,
      ...(spec.fifo ? { fifo: true } : {}),
      visibilityTimeout: seconds(spec, 'VisibilityTimeout'),
      retentionPeriod: seconds(spec, 'MessageRetentionPeriod'),
      deliveryDelay: seconds(spec, 'DelaySeconds'),
      receiveMessageWaitTime: seconds(spec, 'ReceiveMessageWaitTimeSeconds'),
      ...(deadLetterQueue && spec.maxReceiveCount !== undefined
        ? { deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: spec.maxReceiveCount } }
        : {}),
      ...(options.queueKey
        ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: options.queueKey }
        : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
      enforceSSL: true,
      removalPolicy: options.removalPolicy,
    });
    queues.set(spec.name, queue);
    if (spec.role === 'subscriber') {
      Validations.of(queue).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SQS3',
        reason:
          'An extra subscriber queue (an audit trail of every task) is read by people and tools, not by a tq worker that fails and retries: nothing is ever dead-lettered from it.',
      });
    }
    if (spec.subscribed) {
      const filterPolicy = spec.filterTasks
        ? { task: sns.SubscriptionFilter.stringFilter({ allowlist: [...spec.filterTasks] }) }
        : undefined;
      topic.addSubscription(
        new subscriptions.SqsSubscription(queue, {
          rawMessageDelivery: true,
          ...(filterPolicy ? { filterPolicy } : {}),
        }),
      );
    }
  }
  return queues;
}

/** The task status table as `statusTableDefinition` describes it: on-demand, TTL, point-in-time recovery. */
export function buildStatusTable(scope: Construct, prefix: string, removalPolicy: RemovalPolicy): dynamodb.Table {
  const definition = statusTableDefinition(statusTableName(prefix));
  const type = (name: string) =>
    definition.AttributeDefinitions.find((attribute) => attribute.AttributeName === name)?.AttributeType === 'S'
      ? dynamodb.AttributeType.STRING
      : dynamodb.AttributeType.NUMBER;
  const key = (kind: 'HASH' | 'RANGE') => {
    const name = definition.KeySchema.find((element) => element.KeyType === kind)?.AttributeName as string;
    return { name, type: type(name) };
  };
  return new dynamodb.Table(scope, 'StatusTable', {
    tableName: definition.TableName,
    partitionKey: key('HASH'),
    sortKey: key('RANGE'),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: STATUS_TTL_ATTRIBUTE,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy,
  });
}

/** The idempotency table (`idempotencyTableDefinition`: key `key`, on-demand, TTL, point-in-time recovery). */
export function buildIdempotencyTable(scope: Construct, prefix: string, removalPolicy: RemovalPolicy): dynamodb.Table {
  const definition = idempotencyTableDefinition(idempotencyTableName(prefix));
  return new dynamodb.Table(scope, 'IdempotencyTable', {
    tableName: definition.TableName,
    partitionKey: { name: definition.KeySchema[0]?.AttributeName as string, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: IDEMPOTENCY_TTL_ATTRIBUTE,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy,
  });
}

/**
 * Schedules: EventBridge Scheduler publishes each firing to the topic, with the `task` attribute
 * the subscriptions filter on, under a role that may publish there and do nothing else. The group
 * is named after the prefix and holds one-time sends too.
 */
export function buildSchedules(
  scope: Construct,
  desired: DesiredTopology,
  topic: sns.Topic,
): { group: scheduler.CfnScheduleGroup; role: iam.Role; schedules: Map<string, scheduler.CfnSchedule> } {
  const stack = Stack.of(scope);
  const group = new scheduler.CfnScheduleGroup(scope, 'ScheduleGroup', { name: desired.prefix });
  const role = new iam.Role(scope, 'SchedulerRole', {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
    description: `EventBridge Scheduler publishes the ${desired.prefix} schedules' tasks to the topic`,
  });
  topic.grantPublish(role);
  const schedules = new Map<string, scheduler.CfnSchedule>();
  for (const definition of desired.schedules) {
    checkDeployable(definition);
    const request = scheduleRequest(definition, {
      group: desired.prefix,
      topicArn: topic.topicArn,
      roleArn: role.roleArn,
    });
    const schedule = new scheduler.CfnSchedule(scope, `Schedule${definition.name.replace(/[^A-Za-z0-9]/g, '')}`, {
      name: request.Name,
      groupName: group.ref,
      scheduleExpression: request.ScheduleExpression,
      scheduleExpressionTimezone: request.ScheduleExpressionTimezone,
      state: request.State,
      ...(request.Description !== undefined ? { description: request.Description } : {}),
      flexibleTimeWindow: { mode: 'OFF' },
      target: {
        arn: request.Target.Arn,
        roleArn: request.Target.RoleArn,
        input: request.Target.Input,
        retryPolicy: {
          maximumRetryAttempts: request.Target.RetryPolicy.MaximumRetryAttempts,
          maximumEventAgeInSeconds: request.Target.RetryPolicy.MaximumEventAgeInSeconds,
        },
      },
    });
    schedules.set(definition.name, schedule);
  }
  return { group, role, schedules };
}

/**
 * The artifacts bucket: public access blocked, owner-enforced, TLS only, encrypted (SSE-S3 or the
 * given KMS key), claim checks expiring, server access logs to the given or a new logs bucket.
 */
export function buildBucket(
  scope: Construct,
  bucketName: string,
  options: {
    accessLogs: s3.IBucket | false | undefined;
    bucketKey: kms.IKey | undefined;
    claimCheckExpirationDays: number | undefined;
    removalPolicy: RemovalPolicy;
  },
): s3.Bucket {
  const logs =
    options.accessLogs === false
      ? undefined
      : (options.accessLogs ??
        new s3.Bucket(scope, 'AccessLogs', {
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          encryption: s3.BucketEncryption.S3_MANAGED,
          enforceSSL: true,
          lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(90) }],
          removalPolicy: options.removalPolicy,
        }));
  return new s3.Bucket(scope, 'Artifacts', {
    bucketName,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    ...(options.bucketKey
      ? { encryption: s3.BucketEncryption.KMS, encryptionKey: options.bucketKey, bucketKeyEnabled: true }
      : { encryption: s3.BucketEncryption.S3_MANAGED }),
    lifecycleRules: [
      {
        id: 'expire-claim-checks',
        prefix: CLAIM_CHECK_PREFIX,
        expiration: Duration.days(options.claimCheckExpirationDays ?? 14),
      },
    ],
    ...(logs ? { serverAccessLogsBucket: logs, serverAccessLogsPrefix: `${bucketName}/` } : {}),
    removalPolicy: options.removalPolicy,
  });
}

/** Grants `actions` on a table to `grantee`, when the topology has that table. */
export function grantOnTable(grantee: iam.IGrantable, table: dynamodb.Table | undefined, actions: string[]): void {
  if (!table) return;
  iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [table.tableArn] });
}
