import { defineSchedule } from '@tq/topology';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { TqTopology } from '../src/index.js';

import { ENV, queuesOf, type Resource, synth } from './templates.js';

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
