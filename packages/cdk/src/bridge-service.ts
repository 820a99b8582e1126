import { formatS3Uri } from '@tq/contracts';
import { Stack, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { addWorkerContainer, grantConsume } from './container.js';
import type { TqTopology } from './topology.js';

/** The consumer name of the ActiveMQ bridge's copy queues. */
const CONSUMER = 'activemq';

/** Properties of `TqActiveMqBridgeService`. */
export interface TqActiveMqBridgeServiceProps {
  /** A topology with the bridge's copies (`copies: [{ consumer: 'activemq' }]`, as `TQ_ACTIVEMQ_URL` gives `tq provision`). */
  topology: TqTopology;
  cluster: ecs.ICluster;
  /** The bridge's image (`apps/activemq-bridge`'s Dockerfile). */
  image: ecs.ContainerImage;
  /** The broker's STOMP connector, `TQ_ACTIVEMQ_URL`: e.g. Amazon MQ's `stomp+ssl://b-….mq.eu-west-1.amazonaws.com:61614`. */
  brokerUrl: string;
  /** A secret with `username` and `password` (Amazon MQ's user): `ACTIVEMQ_USER`, `ACTIVEMQ_PASSWORD`. */
  brokerCredentials?: secretsmanager.ISecret;
  /** `ACTIVEMQ_MODE`: `forward`, `ingest` or `both` (default). */
  mode?: 'forward' | 'ingest' | 'both';
  /** Other variables of the bridge's README (`ACTIVEMQ_DESTINATIONS`, `ACTIVEMQ_POLL_DELAY_MS`…). */
  environment?: Record<string, string>;
  /** Bridges running. Default 1. */
  desiredCount?: number;
  shutdownGraceSeconds?: number;
  cpu?: number;
  memoryLimitMiB?: number;
  logRetention?: logs.RetentionDays;
}

/**
 * The ActiveMQ bridge (`apps/activemq-bridge`) as an ECS Fargate service. Its task role may
 * consume the bridge's copy queues and send to their DLQs, read claim checks, write task status,
 * and (unless it only forwards) publish on the topic: what the bridge does, nothing else.
 */
export class TqActiveMqBridgeService extends Construct {
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The task types forwarded (those with a copy queue). */
  readonly tasks: readonly string[];

  constructor(scope: Construct, id: string, props: TqActiveMqBridgeServiceProps) {
    super(scope, id);
    const { topology } = props;
    const copies = topology.desired.queues.filter((queue) => queue.consumer === CONSUMER && queue.role === 'task');
    if (copies.length === 0) {
      throw new Error(
        "this topology has no ActiveMQ copies: build it with copies: [{ consumer: 'activemq' }] (what tq provision does with TQ_ACTIVEMQ_URL)",
      );
    }
    this.tasks = copies.map((queue) => queue.task as string);
    const mode = props.mode ?? 'both';
    const graceSeconds = props.shutdownGraceSeconds ?? 25;
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu ?? 512,
      memoryLimitMiB: props.memoryLimitMiB ?? 1024,
    });
    const role = this.taskDefinition.taskRole;
    for (const copy of copies) {
      grantConsume(role, topology.queueNamed(copy.name), topology.queueNamed(copy.deadLetterQueue as string));
    }
    // Tasks from ActiveMQ go into tq through the topic.
    if (mode !== 'forward') topology.topic.grantPublish(role);
    topology.grantStatusWrite(role);
    const bucket = topology.desired.bucket;
    if (bucket) {
      const claimChecks = `arn:${Stack.of(this).partition}:s3:::${bucket}/tq/claim-checks/*`;
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [claimChecks] }));
      topology.bucket?.encryptionKey?.grantDecrypt(role);
      Validations.of(role).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${bucket}/tq/claim-checks/*]`,
        reason:
          'The bridge reads the envelope of a claim-checked task (its key is only known from the message): the grant is the claim-check prefix and nothing else.',
      });
    }
    addWorkerContainer(this, this.taskDefinition, {
      image: props.image,
      environment: {
        ...topology.environment(),
        TQ_ACTIVEMQ_URL: props.brokerUrl,
        TQ_ACTIVEMQ_TASKS: this.tasks.join(','),
        ACTIVEMQ_MODE: mode,
        ...(bucket ? { TQ_S3_ALLOW: formatS3Uri(bucket, 'tq/claim-checks/') } : {}),
        ...props.environment,
      },
      ...(props.brokerCredentials
        ? {
            secrets: {
              ACTIVEMQ_USER: ecs.Secret.fromSecretsManager(props.brokerCredentials, 'username'),
              ACTIVEMQ_PASSWORD: ecs.Secret.fromSecretsManager(props.brokerCredentials, 'password'),
            },
          }
        : {}),
      streamPrefix: 'activemq-bridge',
      graceSeconds,
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: props.desiredCount ?? 1,
      minHealthyPercent: 100,
      circuitBreaker: { rollback: true },
    });
  }
}
