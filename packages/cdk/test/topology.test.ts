import { S3Client } from '@aws-sdk/client-s3';
import { GetSubscriptionAttributesCommand, ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  IDEMPOTENCY_TTL_ATTRIBUTE,
  idempotencyTableDefinition,
  STATUS_TTL_ATTRIBUTE,
  statusTableDefinition,
} from '@tq/status';
import { startLocalEndpoint, uniqueName } from '@tq/testing';
import { createProvisioner, type DesiredTopology, defineTopology } from '@tq/topology';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { TqTopology } from '../src/index.js';
import { ENV, queuesOf, type Resource, subscriptionsOf, synth } from './templates.js';

describe('TqTopology builds what tq provision builds', () => {
  it('resource by resource: the same queues, attributes, redrive policies and filtered subscriptions', async () => {
    const prefix = uniqueName('cdk');
    const desired: DesiredTopology = defineTopology({
      prefix,
      bucket: false,
      queues: { generate_report: { fifo: true }, send_email: { maxReceiveCount: 7, visibilityTimeoutSeconds: 90 } },
      copies: [{ consumer: 'activemq', tasks: ['send_email', 'cleanup_data'] }],
      subscribers: [{ name: 'audit', tasks: ['send_email'] }],
    });
    const { template } = synth((stack) => new TqTopology(stack, 'Tq', { topology: desired }));
    const { queues, names } = queuesOf(template);

    const endpoint = await startLocalEndpoint();
    const clients = {
      sqs: new SQSClient(endpoint.clientConfig),
      sns: new SNSClient(endpoint.clientConfig),
      s3: new S3Client(endpoint.clientConfig),
    };
    try {
      await createProvisioner({ ...clients, topology: desired }).apply();
      expect([...queues.keys()].sort()).toEqual(desired.queues.map((queue) => queue.name).sort());
      for (const spec of desired.queues) {
        const built = queues.get(spec.name);
        const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: spec.name }));
        const live: Record<string, string | undefined> =
          (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes ??
          {};
        // Every attribute the desired state sets is in the template, with the value SQS holds.
        expect(Object.keys(built?.attributes ?? {}).sort(), spec.name).toEqual(Object.keys(spec.attributes).sort());
        for (const [name, value] of Object.entries(built?.attributes ?? {})) {
          expect(live[name], `${spec.name} ${name}`).toBe(value);
        }
        const redrive = live.RedrivePolicy ? JSON.parse(live.RedrivePolicy) : undefined;
        expect(built?.dlq, spec.name).toBe(redrive ? String(redrive.deadLetterTargetArn).split(':').at(-1) : undefined);
        expect(built?.maxReceiveCount, spec.name).toBe(redrive ? Number(redrive.maxReceiveCount) : undefined);
      }

      const topicArn = `arn:aws:sns:${endpoint.region}:000000000000:${prefix}-tasks`;
      const listed = await clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }));
      const live = await Promise.all(
        (listed.Subscriptions ?? []).map(async (subscription) => {
          const { Attributes: a = {} } = await clients.sns.send(
            new GetSubscriptionAttributesCommand({ SubscriptionArn: subscription.SubscriptionArn }),
          );
          return {
            queue: String(subscription.Endpoint).split(':').at(-1) as string,
            filter: a.FilterPolicy ? JSON.parse(a.FilterPolicy) : null,
            raw: a.RawMessageDelivery === 'true',
            protocol: subscription.Protocol,
          };
        }),
      );
      expect(subscriptionsOf(template, names)).toEqual(live.sort((a, b) => a.queue.localeCompare(b.queue)));
      // The FIFO task's queue has no subscription (the topic cannot deliver to it); copies do.
      expect(live.map((s) => s.queue)).not.toContain(`${prefix}-generate_report.fifo`);
      expect(live.map((s) => s.queue)).toContain(`${prefix}-send_email-activemq`);
    } finally {
      for (const client of Object.values(clients)) client.destroy();
      await endpoint.stop();
    }
  }, 120_000);
});

describe('TqTopology security', () => {
  it('encrypts and refuses plain HTTP everywhere; the bucket blocks public access and expires claim checks', () => {
    const { template } = synth((stack) => new TqTopology(stack, 'Tq', { topology: { prefix: 'shop' } }));
    const topics = Object.values(template.findResources('AWS::SNS::Topic')) as Resource[];
    expect(topics.map((topic) => topic.Properties.TopicName)).toEqual(['shop-tasks']);
    // The AWS-managed SNS key, by its alias ARN.
    expect(JSON.stringify(topics[0]?.Properties.KmsMasterKeyId)).toMatch(/:kms:eu-west-1:123456789012:alias\/aws\/sns/);
    for (const queue of Object.values(template.findResources('AWS::SQS::Queue')) as Resource[]) {
      expect(queue.Properties.SqsManagedSseEnabled, String(queue.Properties.QueueName)).toBe(true);
    }
    const denyPlainHttp = Match.objectLike({
      Effect: 'Deny',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    // One policy per queue (SNS's send permission and the TLS rule), the topic's and the buckets'.
    const queuePolicies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as Resource[];
    expect(queuePolicies.length).toBeGreaterThanOrEqual(8);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([denyPlainHttp]) },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([denyPlainHttp]) },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'shop-artifacts',
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ Prefix: 'tq/claim-checks/', ExpirationInDays: 14, Status: 'Enabled' })],
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'shop-artifacts/' }),
    });
    template.allResourcesProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([denyPlainHttp]) },
    });
  });

  it('uses the KMS keys it is given (SSE-KMS with a bucket key, queues, topic)', () => {
    const { template } = synth((stack) => {
      const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
      new TqTopology(stack, 'Tq', { bucketKey: key, queueKey: key, topicKey: key, accessLogs: false });
    });
    const keyArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] };
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
          },
        ],
      },
    });
    template.allResourcesProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
    template.resourceCountIs('AWS::S3::Bucket', 1);
  });
});

describe('TqTopology status table', () => {
  it('is the table statusTableDefinition describes (tq provision makes the same): keys, no index, TTL, on-demand, PITR', () => {
    const { template } = synth((stack) => new TqTopology(stack, 'Tq', { topology: { prefix: 'shop' } }));
    const definition = statusTableDefinition('shop-task-status');
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: definition.TableName,
      BillingMode: definition.BillingMode,
      KeySchema: definition.KeySchema,
      AttributeDefinitions: definition.AttributeDefinitions,
      GlobalSecondaryIndexes: Match.absent(),
      TimeToLiveSpecification: { AttributeName: STATUS_TTL_ATTRIBUTE, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    const none = synth(
      (stack) => new TqTopology(stack, 'Tq', { statusTable: false, idempotencyTable: false }),
    ).template;
    none.resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  it('has the idempotency table idempotencyTableDefinition describes; grants conditional writes on it only', () => {
    const { template, stack } = synth((stack) => {
      const tq = new TqTopology(stack, 'Tq', { topology: { prefix: 'shop' } });
      const role = new iam.Role(stack, 'Guard', { assumedBy: new iam.AccountRootPrincipal() });
      tq.grantIdempotency(role);
    });
    const definition = idempotencyTableDefinition('shop-idempotency');
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: definition.TableName,
      BillingMode: definition.BillingMode,
      KeySchema: definition.KeySchema,
      AttributeDefinitions: definition.AttributeDefinitions,
      TimeToLiveSpecification: { AttributeName: IDEMPOTENCY_TTL_ATTRIBUTE, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Guard') }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TqIdempotencyTable'), 'Arn'] },
          },
        ],
      },
    });
    expect(stack).toBeDefined();
  });

  it('grants reads and writes on the status table only, and gives it no secondary index', () => {
    const { template } = synth((stack) => {
      const tq = new TqTopology(stack, 'Tq');
      const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
      const writer = new iam.Role(stack, 'Writer', { assumedBy: new iam.AccountRootPrincipal() });
      tq.grantStatusRead(reader);
      tq.grantStatusWrite(writer);
    });
    const table = { 'Fn::GetAtt': [Match.stringLikeRegexp('^TqStatusTable'), 'Arn'] };
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['dynamodb:Query', 'dynamodb:GetItem'],
            Resource: table,
          },
        ],
      },
    });
    // `recent()` reads index items the writer keeps; an index would double every status write.
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'tq-task-status',
      GlobalSecondaryIndexes: Match.absent(),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Writer') }],
      PolicyDocument: {
        Statement: [{ Effect: 'Allow', Action: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'], Resource: table }],
      },
    });
  });
});

describe('TqTopology under cdk-nag (AwsSolutions)', () => {
  it('synthesizes with no unacknowledged finding; every acknowledgement says why', () => {
    const app = new App();
    const stack = new Stack(app, 'Tq', { env: ENV });
    new TqTopology(stack, 'Tq', { topology: { copies: [{ consumer: 'activemq' }], subscribers: [{ name: 'audit' }] } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
    // A finding fails the synth with the report (the error names each rule and resource).
    const assembly = app.synth();
    const template = assembly.getStackByName('Tq').template as {
      Resources: Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }>;
    };
    const acknowledged = Object.values(template.Resources).flatMap(
      (resource) => resource.Metadata?.cdk_nag?.rules_to_suppress ?? [],
    );
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const rule of acknowledged) expect(rule.reason.length, rule.id).toBeGreaterThan(40);
  });
});

describe('TqTopology template', () => {
  it('matches the committed snapshot (review changes to it)', async () => {
    const { template } = synth((stack) => new TqTopology(stack, 'Tq'));
    await expect(`${JSON.stringify(template.toJSON(), null, 2)}\n`).toMatchFileSnapshot(
      './__snapshots__/topology.template.json',
    );
  });
});
