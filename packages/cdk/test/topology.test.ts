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
import { createProvisioner, type DesiredTopology, defineSchedule, defineTopology } from '@tq/topology';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { TqTopology } from '../src/index.js';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function synth(build: (stack: Stack) => void): { stack: Stack; template: Template } {
  const stack = new Stack(new App(), 'Tq', { env: ENV });
  build(stack);
  return { stack, template: Template.fromStack(stack) };
}

type Resource = { Properties: Record<string, unknown> };
type GetAtt = { 'Fn::GetAtt': [string, string] };

/** Every queue of a template by its name, with the attributes SQS would report (as strings). */
function queuesOf(template: Template) {
  const resources = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
  const names = new Map(Object.entries(resources).map(([id, r]) => [id, r.Properties.QueueName as string]));
  const queues = new Map<string, { attributes: Record<string, string>; dlq?: string; maxReceiveCount?: number }>();
  for (const resource of Object.values(resources)) {
    const p = resource.Properties;
    const attributes: Record<string, string> = {};
    for (const [cfn, sqs] of [
      ['VisibilityTimeout', 'VisibilityTimeout'],
      ['MessageRetentionPeriod', 'MessageRetentionPeriod'],
      ['DelaySeconds', 'DelaySeconds'],
      ['ReceiveMessageWaitTimeSeconds', 'ReceiveMessageWaitTimeSeconds'],
      ['FifoQueue', 'FifoQueue'],
    ] as const) {
      if (p[cfn] !== undefined) attributes[sqs] = String(p[cfn]);
    }
    const redrive = p.RedrivePolicy as { deadLetterTargetArn: GetAtt; maxReceiveCount: number } | undefined;
    queues.set(p.QueueName as string, {
      attributes,
      ...(redrive
        ? { dlq: names.get(redrive.deadLetterTargetArn['Fn::GetAtt'][0]), maxReceiveCount: redrive.maxReceiveCount }
        : {}),
    });
  }
  return { queues, names };
}

/** Every subscription of a template: the queue it delivers to, its filter and raw delivery. */
function subscriptionsOf(template: Template, names: Map<string, string>) {
  const resources = template.findResources('AWS::SNS::Subscription') as Record<string, Resource>;
  return Object.values(resources)
    .map(({ Properties: p }) => ({
      queue: names.get((p.Endpoint as GetAtt)['Fn::GetAtt'][0]) as string,
      filter: p.FilterPolicy ?? null,
      raw: p.RawMessageDelivery === true,
      protocol: p.Protocol,
    }))
    .sort((a, b) => a.queue.localeCompare(b.queue));
}

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

describe('TqTopology schedules', () => {
  const report = {
    title: 'Nightly sales',
    columns: [{ key: 'region', label: 'Region' }],
    rows: [{ region: 'north' }],
    destination: 's3://tq-artifacts/reports/nightly.pdf',
  };

  it('makes an EventBridge schedule per definition, publishing to the topic under a publish-only role', () => {
    const nightly = defineSchedule({
      name: 'nightly-report',
      task: 'generate_report',
      payload: report,
      cron: '0 2 * * *',
      timezone: 'Europe/Paris',
    });
    const { template } = synth(
      (stack) => new TqTopology(stack, 'Tq', { topology: { prefix: 'shop', schedules: [nightly] } }),
    );
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'shop' });
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')) as Resource[];
    expect(schedules).toHaveLength(1);
    const properties = schedules[0]?.Properties as {
      Name: string;
      ScheduleExpression: string;
      ScheduleExpressionTimezone: string;
      FlexibleTimeWindow: object;
      Target: { Arn: string; Input: unknown; RoleArn: unknown };
    };
    expect(properties).toMatchObject({
      Name: 'nightly-report',
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: 'arn:aws:scheduler:::aws-sdk:sns:publish' },
    });
    // The input is the SNS Publish call: the topic (a token), the firing's envelope, the task attribute.
    const parts = (properties.Target.Input as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    const input = JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'TOPIC-ARN')).join('')) as {
      TopicArn: string;
      Message: string;
      MessageAttributes: object;
    };
    expect(input.TopicArn).toBe('TOPIC-ARN');
    expect(JSON.stringify(parts)).toContain('"Ref":"TqTopic');
    expect(input.MessageAttributes).toEqual({ task: { DataType: 'String', StringValue: 'generate_report' } });
    expect(JSON.parse(input.Message)).toEqual({
      task: 'generate_report',
      version: 1,
      createdAt: '<aws.scheduler.scheduled-time>',
      idempotencyKey: 'schedule:nightly-report:<aws.scheduler.scheduled-time>',
      payload: report,
    });
    // The scheduler role: assumed by EventBridge Scheduler from this account, publishing on the topic only.
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
          },
        ],
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('^TqSchedulerRole'),
      PolicyDocument: {
        Statement: [{ Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: Match.stringLikeRegexp('^TqTopic') } }],
      },
    });
  });

  it('refuses what EventBridge cannot run: a sub-minute rate', () => {
    const fast = defineSchedule({ name: 'fast', task: 'generate_report', payload: report, rate: '1 second' });
    expect(() => synth((stack) => new TqTopology(stack, 'Tq', { topology: { schedules: [fast] } }))).toThrow(
      /whole minutes/,
    );
  });

  it("grantSendLater: CreateSchedule on the group's one-time schedules and PassRole of the scheduler role only", () => {
    const { template } = synth((stack) => {
      const tq = new TqTopology(stack, 'Tq', { topology: { prefix: 'shop' } });
      const role = new iam.Role(stack, 'Checkout', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
      tq.grantSendLater(role);
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Checkout') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'scheduler:CreateSchedule',
            Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':schedule/shop/once-\\*$')])] },
          }),
          Match.objectLike({
            Action: 'iam:PassRole',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TqSchedulerRole'), 'Arn'] },
          }),
        ]),
      },
    });
  });
});

describe('TqTopology.grantConsole', () => {
  function consoleStatements(write: boolean) {
    const app = new App();
    const stack = new Stack(app, 'Tq', { env: ENV });
    const tq = new TqTopology(stack, 'Tq');
    const role = new iam.Role(stack, 'Console', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    tq.grantConsole(role, { write });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
    // A cdk-nag finding throws here.
    const template = Template.fromJSON(app.synth().getStackByName('Tq').template);
    const policies = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('ConsoleDefaultPolicy'))
      .map(([, policy]) => policy) as Resource[];
    return policies.flatMap(
      (policy) => (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
    );
  }
  const actionsOn = (statements: Record<string, unknown>[], queue: RegExp) =>
    statements
      .filter((statement) => queue.test(JSON.stringify(statement.Resource)))
      .flatMap((statement) => [statement.Action].flat() as string[]);

  it('reads: counts everywhere, receives on the DLQs only, no delete, no send', () => {
    const statements = consoleStatements(false);
    const all = statements.flatMap((statement) => [statement.Action].flat() as string[]);
    expect(all).not.toContain('sqs:DeleteMessage');
    expect(all).not.toContain('sqs:SendMessage');
    expect(all).not.toContain('sns:Publish');
    expect(actionsOn(statements, /TqQueuetqsendemaildlq/)).toEqual(
      expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes']),
    );
    expect(actionsOn(statements, /TqQueuetqsendemail[0-9A-F]{8}"/)).not.toContain('sqs:ReceiveMessage');
    expect(all).toEqual(expect.arrayContaining(['cloudwatch:GetMetricStatistics', 'dynamodb:Query']));
  });

  it('writes: deletes on the DLQs, sends to the task queues and the topic', () => {
    const statements = consoleStatements(true);
    expect(actionsOn(statements, /TqQueuetqsendemaildlq/)).toContain('sqs:DeleteMessage');
    expect(actionsOn(statements, /TqQueuetqsendemail[0-9A-F]{8}"/)).toContain('sqs:SendMessage');
    expect(statements.flatMap((statement) => [statement.Action].flat())).toContain('sns:Publish');
  });
});

describe('TqTopology.grantSend', () => {
  it('grants sns:Publish on the topic and direct sends to the named tasks only: no ListTopics, no wildcard', () => {
    const { template } = synth((stack) => {
      const tq = new TqTopology(stack, 'Tq');
      const role = new iam.Role(stack, 'Checkout', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
      tq.grantSend(role, ['send_email']);
    });
    const policies = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => !id.includes('SchedulerRole'))
      .map(([, policy]) => policy) as Resource[];
    expect(policies).toHaveLength(1);
    const document = policies[0]?.Properties.PolicyDocument as { Statement: Record<string, unknown>[] };
    const statements = document.Statement;
    const actions = statements.flatMap((statement) => [statement.Action].flat() as string[]);
    expect([...new Set(actions)].sort()).toEqual(
      ['sns:Publish', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].sort(),
    );
    expect(JSON.stringify(statements)).not.toContain('"*"');
    const resources = JSON.stringify(statements);
    const queues = queuesOf(template).names;
    const referenced = [...resources.matchAll(/"(Tq[A-Za-z0-9]+)"/g)].map((match) => queues.get(match[1] as string));
    expect(referenced.filter(Boolean)).toEqual(['tq-send_email', 'tq-send_email']);
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
