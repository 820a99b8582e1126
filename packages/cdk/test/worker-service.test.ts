import { createRegistry, defineTask, Type } from '@tq/contracts';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { backlogTarget, TqTopology, TqWorkerService } from '../src/index.js';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const IMAGE = ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:24-bookworm-slim');

/** The whole system: topology, a cluster with Container Insights, the four workers as the apps run them. */
function system(app = new App()) {
  const stack = new Stack(app, 'Tq', { env: ENV });
  const topology = new TqTopology(stack, 'Tq');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { all: {} } });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
  const smtp = new secretsmanager.Secret(stack, 'SmtpUrl', { description: 'smtp(s)://user:password@host:port' });
  Validations.of(smtp).acknowledge({
    id: 'AwsSolutions::AwsSolutions-SMG4',
    reason: 'An SMTP provider credential is rotated at the provider, not by a Secrets Manager rotation Lambda.',
  });
  const common = { topology, cluster, image: IMAGE };
  const services = {
    email: new TqWorkerService(stack, 'Email', {
      ...common,
      task: 'send_email',
      environment: { EMAIL_FROM: 'Shop <no-reply@example.com>' },
      secrets: { SMTP_URL: ecs.Secret.fromSecretsManager(smtp) },
      scaling: { maxTasks: 4 },
    }),
    image: new TqWorkerService(stack, 'Image', {
      ...common,
      task: 'process_image',
      s3Allow: ['s3://tq-artifacts/uploads/', 's3://tq-artifacts/images/'],
      scaling: { scaleToZero: true, secondsPerMessage: 2, acceptableLatencySeconds: 120 },
    }),
    cleanup: new TqWorkerService(stack, 'Cleanup', { ...common, task: 'cleanup_data', concurrency: 2 }),
    report: new TqWorkerService(stack, 'Report', { ...common, task: 'generate_report', sends: ['send_email'] }),
  };
  return { app, stack, topology, services };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Resource = { Type: string; Properties: Record<string, unknown> };

/** The statements of the policies attached to a role, with their resources as plain strings. */
function statementsOf(template: Template, roleLogicalId: string) {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  return policies
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${roleLogicalId}"`))
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .map((statement) => ({
      actions: [statement.Action].flat(),
      resources: [statement.Resource].flat().map((resource) => JSON.stringify(resource)),
    }));
}

describe('TqWorkerService', () => {
  const { stack, services } = system();
  const template = Template.fromStack(stack);
  const queueNames = new Map(
    Object.entries(template.findResources('AWS::SQS::Queue') as Record<string, Resource>).map(([id, queue]) => [
      id,
      queue.Properties.QueueName as string,
    ]),
  );
  const roleOf = (service: TqWorkerService) =>
    stack.resolve(stack.getLogicalId(service.taskDefinition.taskRole.node.defaultChild as ecs.CfnTaskDefinition));
  const containerOf = (service: TqWorkerService) => {
    const id = stack.resolve(stack.getLogicalId(service.taskDefinition.node.defaultChild as ecs.CfnTaskDefinition));
    const definition = template.toJSON().Resources[id] as Resource;
    const [container] = definition.Properties.ContainerDefinitions as Record<string, unknown>[];
    const environment = Object.fromEntries(
      ((container?.Environment ?? []) as { Name: string; Value: unknown }[]).map((entry) => [entry.Name, entry.Value]),
    );
    return { container: container ?? {}, environment };
  };
  /** What a role's statements reach: queue names, the topic, S3 ARNs (as JSON text). */
  const reach = (service: TqWorkerService) =>
    statementsOf(template, roleOf(service)).map(({ actions, resources }) => ({
      actions: actions.sort(),
      resources: resources.map((text) => {
        const id = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(text)?.[1];
        if (id && queueNames.has(id)) return queueNames.get(id);
        if (/"Ref":"TqTopic/.test(text)) return 'topic';
        return text;
      }),
    }));

  it('grants each worker its own queue and DLQ and nothing of another task; no * resource for sqs, s3 or sns', () => {
    for (const [name, service] of Object.entries(services)) {
      const statements = reach(service);
      const own = service.queueName;
      const dlq = service.deadLetterQueueName;
      for (const { actions, resources } of statements) {
        if (!actions.some((action) => /^(sqs|s3|sns):/.test(action))) continue;
        for (const resource of resources) {
          expect(resource, `${name}: ${actions.join(',')}`).not.toBe('"*"');
          expect(String(resource), name).not.toMatch(/^"arn:[^"]*:\*"$/);
        }
        if (actions.some((action) => action.startsWith('sqs:'))) {
          const sendsTo = name === 'report' ? ['tq-send_email'] : [];
          for (const resource of resources) expect([own, dlq, ...sendsTo], `${name} ${actions}`).toContain(resource);
        }
      }
      // Consumes its own queue…
      expect(statements).toContainEqual({
        actions: [
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
        ],
        resources: [own],
      });
      // …and dead-letters to its own DLQ.
      expect(statements).toContainEqual({ actions: ['sqs:GetQueueUrl', 'sqs:SendMessage'], resources: [dlq] });
    }
  });

  it('lets each worker write task status; the email and report workers also keep idempotency records; nothing else in DynamoDB', () => {
    for (const [name, service] of Object.entries(services)) {
      const dynamo = reach(service).filter((statement) => statement.actions.some((a) => a.startsWith('dynamodb:')));
      const guarded = name === 'email' || name === 'report';
      expect(dynamo, name).toHaveLength(guarded ? 2 : 1);
      expect(dynamo).toContainEqual({
        actions: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'],
        resources: [expect.stringMatching(/^\{"Fn::GetAtt":\["TqStatusTable[0-9A-F]+","Arn"\]\}$/)],
      });
      if (guarded) {
        expect(dynamo).toContainEqual({
          actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [expect.stringMatching(/^\{"Fn::GetAtt":\["TqIdempotencyTable[0-9A-F]+","Arn"\]\}$/)],
        });
      }
      const { environment } = containerOf(service);
      expect(environment.TQ_IDEMPOTENCY, name).toBe(guarded ? 'on' : 'off');
      expect(environment.TQ_IDEMPOTENCY_TABLE).toBe('tq-idempotency');
    }
  });

  it('lets only the report worker publish, and only the writers write to S3, within their allow-lists', () => {
    const actionsOf = (service: TqWorkerService) => reach(service).flatMap((statement) => statement.actions);
    expect(actionsOf(services.report)).toContain('sns:Publish');
    for (const service of [services.email, services.image, services.cleanup]) {
      expect(actionsOf(service)).not.toContain('sns:Publish');
    }
    expect(actionsOf(services.email)).not.toContain('s3:PutObject');
    const image = reach(services.image);
    const put = image.find((statement) => statement.actions.includes('s3:PutObject'));
    expect(
      put?.resources.map((resource) =>
        String(resource)
          .replace(/.*:s3:::/, '')
          .replace(/"\]\]\}$/, ''),
      ),
    ).toEqual(['tq-artifacts/uploads/*', 'tq-artifacts/images/*']);
    const get = image.find((statement) => statement.actions.includes('s3:GetObject'));
    expect(
      get?.resources.map((resource) =>
        String(resource)
          .replace(/.*:s3:::/, '')
          .replace(/"\]\]\}$/, ''),
      ),
    ).toEqual(['tq-artifacts/uploads/*', 'tq-artifacts/images/*', 'tq-artifacts/tq/claim-checks/*']);
  });

  it('runs the app with its environment, secrets, health check and a stop timeout above the shutdown grace', () => {
    const image = containerOf(services.image);
    expect(image.environment).toMatchObject({
      TQ_PREFIX: 'tq',
      TQ_BUCKET: 'tq-artifacts',
      TQ_STATUS: 'on',
      TQ_STATUS_TABLE: 'tq-task-status',
      TQ_TOPIC_ARN: { Ref: expect.stringMatching(/^TqTopic/) },
      TQ_S3_ALLOW: 's3://tq-artifacts/uploads/,s3://tq-artifacts/images/',
      TQ_SHUTDOWN_GRACE_MS: '25000',
      TQ_HTTP_HOST: '0.0.0.0',
      TQ_HTTP_PORT: '8080',
    });
    expect(JSON.stringify(image.container.HealthCheck)).toContain('http://127.0.0.1:8080/healthz');
    expect(image.container.StopTimeout).toBe(40);
    const email = containerOf(services.email);
    expect(email.environment.EMAIL_FROM).toBe('Shop <no-reply@example.com>');
    expect(email.container.Secrets).toEqual([
      { Name: 'SMTP_URL', ValueFrom: { Ref: expect.stringMatching(/^SmtpUrl/) } },
    ]);
  });

  it('scales on the backlog per task: visible messages over running tasks, target from latency and handler time', () => {
    expect(backlogTarget({ acceptableLatencySeconds: 60, secondsPerMessage: 1, concurrency: 10 })).toBe(600);
    expect(services.email.backlogTarget).toBe(600);
    // process_image's concurrency is `cores` in its definition: one per vCPU of its 1,024 CPU units.
    expect(services.image.backlogTarget).toBe(60);
    expect(services.cleanup.backlogTarget).toBe(4);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        TargetValue: 600,
        CustomizedMetricSpecification: {
          Metrics: [
            Match.objectLike({
              Id: 'visible',
              MetricStat: Match.objectLike({
                Metric: Match.objectLike({
                  MetricName: 'ApproximateNumberOfMessagesVisible',
                  Dimensions: [{ Name: 'QueueName', Value: 'tq-send_email' }],
                }),
              }),
            }),
            Match.objectLike({
              Id: 'running',
              MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'RunningTaskCount' }) }),
            }),
            Match.objectLike({ Id: 'backlog', Expression: 'visible / running', ReturnData: true }),
          ],
        },
      }),
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 4 });
    // Scale to zero: no task at rest, a step starts the first one.
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 0, MaxCapacity: 10 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { PolicyType: 'StepScaling' });
  });

  it("takes every default from the task's definition: a project's own task, not one of the four", () => {
    const app = new App();
    const stack = new Stack(app, 'Own', { env: ENV });
    const transcode = defineTask({
      name: 'transcode_video',
      description: 'Transcodes a video.',
      versions: { 1: { schema: Type.Object({ source: Type.String() }) } },
      worker: { concurrency: 'cores' },
      idempotency: true,
      s3Allow: ['s3://videos/in/'],
      sends: ['notify_user'],
      scaling: { secondsPerMessage: 30, minTasks: 0, maxTasks: 6, cpu: 2048, memoryMiB: 4096 },
    });
    const notify = defineTask({
      name: 'notify_user',
      description: 'Notifies a user.',
      versions: { 1: { schema: Type.Object({ user: Type.String() }) } },
      s3Writes: false,
    });
    const topology = new TqTopology(stack, 'Tq', {
      topology: { prefix: 'media', registry: createRegistry([transcode, notify]) },
    });
    const cluster = new ecs.Cluster(stack, 'Cluster', { containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const service = new TqWorkerService(stack, 'Transcode', {
      topology,
      cluster,
      task: 'transcode_video',
      image: IMAGE,
    });
    expect(() => new TqWorkerService(stack, 'Email', { topology, cluster, task: 'send_email', image: IMAGE })).toThrow(
      'unknown task "send_email" (this topology\'s tasks: transcode_video, notify_user)',
    );
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '2048',
      Memory: '4096',
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: 'TQ_S3_ALLOW', Value: 's3://videos/in/' },
            { Name: 'TQ_CONCURRENCY', Value: '2' },
            { Name: 'TQ_IDEMPOTENCY', Value: 'on' },
          ]),
        }),
      ],
    });
    // 60 s of latency × 2 slots (2 vCPU, `cores`) / 30 s a message; scale to zero with minTasks 0.
    expect(service.backlogTarget).toBe(4);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 0, MaxCapacity: 6 });
    // It sends notify_user (its `sends`): the task role may publish to the topic.
    const role = stack.resolve(
      stack.getLogicalId(service.taskDefinition.taskRole.node.defaultChild as ecs.CfnTaskDefinition),
    );
    const actions = statementsOf(template, role).flatMap((statement) => statement.actions);
    expect(actions).toContain('sns:Publish');
  });

  it('runs the HTTP relay as a worker service, with the worker in any language as a sidecar', () => {
    const app = new App();
    const relayStack = new Stack(app, 'Relay', { env: ENV });
    const topology = new TqTopology(relayStack, 'Tq');
    const cluster = new ecs.Cluster(relayStack, 'Cluster', { containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const relay = new TqWorkerService(relayStack, 'PhpEmail', {
      topology,
      cluster,
      task: 'send_email',
      image: IMAGE,
      environment: { TQ_TASK: 'send_email', RELAY_MODE: 'query', RELAY_URL: 'http://127.0.0.1:8000/worker.php' },
    });
    relay.taskDefinition.addContainer('php', {
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/php:8.2-cli'),
      command: ['php', '-S', '127.0.0.1:8000', '-t', '/app'],
      essential: true,
    });
    const relayTemplate = Template.fromStack(relayStack);
    relayTemplate.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: Match.arrayWith([
        Match.objectLike({
          Name: 'worker',
          Environment: Match.arrayWith([{ Name: 'RELAY_URL', Value: 'http://127.0.0.1:8000/worker.php' }]),
        }),
        Match.objectLike({ Name: 'php', Command: ['php', '-S', '127.0.0.1:8000', '-t', '/app'] }),
      ]),
    });
    // The relay consumes send_email's queue like the email worker would: the same grants.
    expect(relay.queueName).toBe('tq-send_email');
  });

  it('synthesizes under cdk-nag (AwsSolutions) with no unacknowledged finding', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
    system(app);
    // A finding fails the synth with the report naming each rule and resource.
    expect(() => app.synth()).not.toThrow();
  });
});
