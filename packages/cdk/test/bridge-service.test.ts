import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { TqActiveMqBridgeService, TqTopology } from '../src/index.js';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const IMAGE = ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:24-bookworm-slim');
type Resource = { Properties: Record<string, unknown> };

function build(app = new App(), mode?: 'forward' | 'ingest' | 'both') {
  const stack = new Stack(app, 'Tq', { env: ENV });
  const topology = new TqTopology(stack, 'Tq', {
    topology: { copies: [{ consumer: 'activemq', tasks: ['send_email', 'generate_report'] }] },
  });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { all: {} } });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
  const credentials = new secretsmanager.Secret(stack, 'MqUser', {
    generateSecretString: { secretStringTemplate: '{"username":"tq"}', generateStringKey: 'password' },
  });
  Validations.of(credentials).acknowledge({
    id: 'AwsSolutions::AwsSolutions-SMG4',
    reason: "Amazon MQ's broker user is changed through the broker's API together with the secret, not by rotation.",
  });
  const bridge = new TqActiveMqBridgeService(stack, 'Bridge', {
    topology,
    cluster,
    image: IMAGE,
    brokerUrl: 'stomp+ssl://b-1234.mq.eu-west-1.amazonaws.com:61614',
    brokerCredentials: credentials,
    ...(mode ? { mode } : {}),
  });
  return { app, stack, bridge };
}

describe('TqActiveMqBridgeService', () => {
  it("consumes only the bridge's copy queues, sends to their DLQs, publishes for the ingest direction", () => {
    const { stack, bridge } = build();
    const template = Template.fromStack(stack);
    const names = new Map(
      Object.entries(template.findResources('AWS::SQS::Queue') as Record<string, Resource>).map(([id, queue]) => [
        id,
        queue.Properties.QueueName as string,
      ]),
    );
    const roleId = stack.resolve(
      stack.getLogicalId(bridge.taskDefinition.taskRole.node.defaultChild as ecs.CfnTaskDefinition),
    );
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`))
      .flatMap(
        (policy) =>
          (policy.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] })
            .Statement,
      );
    const sqs = statements.filter((statement) => [statement.Action].flat().some((action) => action.startsWith('sqs:')));
    const reached = sqs.map((statement) => ({
      actions: [statement.Action].flat().sort(),
      queue: names.get(/"Fn::GetAtt":\["([^"]+)"/.exec(JSON.stringify(statement.Resource))?.[1] as string),
    }));
    expect(reached.map((entry) => entry.queue).sort()).toEqual(
      [
        'tq-generate_report-activemq',
        'tq-generate_report-activemq-dlq',
        'tq-send_email-activemq',
        'tq-send_email-activemq-dlq',
      ].sort(),
    );
    for (const entry of reached) {
      expect(entry.actions).toEqual(
        entry.queue?.endsWith('-dlq')
          ? ['sqs:GetQueueUrl', 'sqs:SendMessage']
          : [
              'sqs:ChangeMessageVisibility',
              'sqs:DeleteMessage',
              'sqs:GetQueueAttributes',
              'sqs:GetQueueUrl',
              'sqs:ReceiveMessage',
            ],
      );
    }
    expect(statements.flatMap((statement) => [statement.Action].flat())).toContain('sns:Publish');
    expect(JSON.stringify(statements)).not.toContain('"Resource":"*"');
    expect(bridge.tasks).toEqual(['send_email', 'generate_report']);

    const [definition] = Object.values(template.findResources('AWS::ECS::TaskDefinition')) as Resource[];
    const [container] = (definition?.Properties.ContainerDefinitions ?? []) as Record<string, unknown>[];
    const environment = Object.fromEntries(
      ((container?.Environment ?? []) as { Name: string; Value: unknown }[]).map((entry) => [entry.Name, entry.Value]),
    );
    expect(environment).toMatchObject({
      TQ_ACTIVEMQ_URL: 'stomp+ssl://b-1234.mq.eu-west-1.amazonaws.com:61614',
      TQ_ACTIVEMQ_TASKS: 'send_email,generate_report',
      ACTIVEMQ_MODE: 'both',
      TQ_S3_ALLOW: 's3://tq-artifacts/tq/claim-checks/',
    });
    expect(((container?.Secrets ?? []) as { Name: string }[]).map((secret) => secret.Name)).toEqual([
      'ACTIVEMQ_USER',
      'ACTIVEMQ_PASSWORD',
    ]);
  });

  it('does not publish when it only forwards, and needs the copies in the topology', () => {
    const { stack } = build(new App(), 'forward');
    // The bridge's own policies: the scheduler role of the topology publishes, the bridge does not.
    const policies = Object.entries(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .filter(([id]) => !id.includes('SchedulerRole'))
      .map(([, policy]) => policy);
    expect(JSON.stringify(policies)).not.toContain('sns:Publish');
    const bare = new Stack(new App(), 'Bare', { env: ENV });
    const topology = new TqTopology(bare, 'Tq');
    const cluster = new ecs.Cluster(bare, 'Cluster');
    expect(
      () =>
        new TqActiveMqBridgeService(bare, 'Bridge', { topology, cluster, image: IMAGE, brokerUrl: 'stomp://mq:61613' }),
    ).toThrow(/no ActiveMQ copies: build it with copies/);
  });

  it('synthesizes under cdk-nag (AwsSolutions) with no unacknowledged finding', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
    build(app);
    expect(() => app.synth()).not.toThrow();
  });
});
