import { Duration, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * What a tq worker does with its queue and nothing more: receive, delete and change visibility on
 * `queue`; send dead letters (with their reason) to `deadLetterQueue`.
 */
export function grantConsume(role: iam.IGrantable, queue: sqs.IQueue, deadLetterQueue: sqs.IQueue): void {
  queue.grant(
    role,
    'sqs:ReceiveMessage',
    'sqs:DeleteMessage',
    'sqs:ChangeMessageVisibility',
    'sqs:GetQueueAttributes',
    'sqs:GetQueueUrl',
  );
  deadLetterQueue.grant(role, 'sqs:SendMessage', 'sqs:GetQueueUrl');
}

/** What every tq app's container gets. */
export interface WorkerContainerOptions {
  image: ecs.ContainerImage;
  /** The app's environment (the topology's, its own); the health server's settings are added. */
  environment: Record<string, string>;
  secrets?: Record<string, ecs.Secret>;
  /** Log stream prefix. */
  streamPrefix: string;
  /** The worker's shutdown grace, seconds: `TQ_SHUTDOWN_GRACE_MS`, and ECS's stop timeout is 15 s more (at most 120). */
  graceSeconds: number;
  logRetention?: logs.RetentionDays;
}

/**
 * Adds a tq app's container to `taskDefinition`: its environment with the health server on
 * 0.0.0.0:8080, the `/healthz` health check, logs to CloudWatch, and a stop timeout above the
 * shutdown grace, so ECS's SIGKILL never cuts a worker finishing its tasks.
 */
export function addWorkerContainer(
  scope: Construct,
  taskDefinition: ecs.FargateTaskDefinition,
  options: WorkerContainerOptions,
): ecs.ContainerDefinition {
  const logGroup = new logs.LogGroup(scope, 'Logs', {
    retention: options.logRetention ?? logs.RetentionDays.ONE_MONTH,
  });
  const container = taskDefinition.addContainer('worker', {
    image: options.image,
    environment: {
      TQ_SHUTDOWN_GRACE_MS: String(options.graceSeconds * 1000),
      TQ_HTTP_HOST: '0.0.0.0',
      TQ_HTTP_PORT: '8080',
      ...options.environment,
    },
    ...(options.secrets ? { secrets: options.secrets } : {}),
    logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: options.streamPrefix }),
    portMappings: [{ containerPort: 8080 }],
    healthCheck: {
      command: [
        'CMD',
        'node',
        '-e',
        "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))",
      ],
      interval: Duration.seconds(15),
      timeout: Duration.seconds(5),
      startPeriod: Duration.seconds(30),
    },
    // SIGTERM, then the worker's grace for running tasks and its abort wait, then SIGKILL.
    stopTimeout: Duration.seconds(Math.min(120, options.graceSeconds + 15)),
  });
  const executionRole = taskDefinition.executionRole;
  if (executionRole) {
    Validations.of(executionRole).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        "The execution role (not the worker's task role) pulls the image from ECR: ecr:GetAuthorizationToken has no resource-level permissions, so AWS requires Resource * for it.",
    });
  }
  Validations.of(taskDefinition).acknowledge({
    id: 'AwsSolutions::AwsSolutions-ECS2',
    reason:
      'The environment holds names and settings only (prefix, bucket, topic ARN, concurrency); secrets such as SMTP_URL come from Secrets Manager through `secrets`.',
  });
  return container;
}
