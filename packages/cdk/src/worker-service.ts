import { formatS3Uri, parseS3Uri, type TaskDefinition } from '@tq/contracts';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { addWorkerContainer, grantConsume } from './container.js';
import type { TqTopology } from './topology.js';

/** How a worker service scales on its backlog. Each default comes from the task's definition (`scaling`). */
export interface TqBacklogScaling {
  /** Fewest tasks. Default: the definition's `minTasks` (0 means `scaleToZero`). */
  minTasks?: number;
  /** Most tasks. Default: the definition's `maxTasks`. */
  maxTasks?: number;
  /**
   * How long one message takes the handler, in seconds (measure it: `tq_handler_duration_seconds`).
   * Default: the definition's `secondsPerMessage`.
   */
  secondsPerMessage?: number;
  /** How long a message may wait in the queue, in seconds. Default 60. */
  acceptableLatencySeconds?: number;
  /** Run no task while the queue is empty; the first message starts one. Default: the definition's `minTasks` is 0. */
  scaleToZero?: boolean;
}

/** Properties of `TqWorkerService`. */
export interface TqWorkerServiceProps {
  topology: TqTopology;
  /** The task type this service consumes. */
  task: string;
  cluster: ecs.ICluster;
  /** The app's image: `ecs.ContainerImage.fromAsset('deploy/<app>')` after `pnpm --filter <app> run deploy`. */
  image: ecs.ContainerImage;
  /** The app's own variables (its README lists them): `EMAIL_FROM`, `ACTIVEMQ_…`. */
  environment?: Record<string, string>;
  /** The app's secrets, e.g. `SMTP_URL` from Secrets Manager for the email worker. */
  secrets?: Record<string, ecs.Secret>;
  /**
   * What the worker may read and write in S3, as `s3://bucket/prefix/` locations: the same list
   * is its `TQ_S3_ALLOW` (the worker refuses anything else before any call) and its IAM grant.
   * Default: the definition's `s3Allow`, else the artifacts bucket. Claim checks
   * (`tq/claim-checks/`) are always readable.
   */
  s3Allow?: readonly string[];
  /** Whether the worker writes to S3 (results, variants, reports). Default: the definition's `s3Writes`. */
  writesS3?: boolean;
  /** Task types this worker sends (the report worker sends `send_email`): `sns:Publish` on the topic. Default: the definition's `sends`. */
  sends?: readonly string[];
  /**
   * Whether the worker guards its effects with idempotency records (`TQ_IDEMPOTENCY`), and so
   * may use the idempotency table. Default: the definition's `idempotency`.
   */
  idempotency?: boolean;
  /**
   * Messages at once per task (`TQ_CONCURRENCY`). Default: the definition's `worker.concurrency`
   * (`cores`: one per vCPU of `cpu`).
   */
  concurrency?: number;
  /** The worker's shutdown grace (`TQ_SHUTDOWN_GRACE_MS`), seconds. Default 25; ECS's stop timeout is this plus 15 s (at most 120). */
  shutdownGraceSeconds?: number;
  /** Fargate CPU units. Default: the definition's `scaling.cpu`. */
  cpu?: number;
  /** Fargate memory in MiB. Default: the definition's `scaling.memoryMiB`. */
  memoryLimitMiB?: number;
  scaling?: TqBacklogScaling;
  /** Days the logs are kept. Default one month. */
  logRetention?: logs.RetentionDays;
}

/** The backlog one task may have: messages it clears within the acceptable latency. */
export function backlogTarget(options: {
  acceptableLatencySeconds: number;
  secondsPerMessage: number;
  concurrency: number;
}): number {
  return Math.max(1, Math.floor((options.acceptableLatencySeconds * options.concurrency) / options.secondsPerMessage));
}

/**
 * One tq worker app as an ECS Fargate service: the app's image with the environment its README
 * lists, the health check on `/healthz`, a stop timeout above the worker's shutdown grace, scaling
 * on the backlog per task, and a task role that may do only what the worker does: consume its
 * own queue, send to its own DLQ, read and write the S3 locations of its allow-list (the same
 * list it enforces itself), publish to the topic only when it sends tasks.
 *
 * Not aws-ecs-patterns' `QueueProcessingFargateService`: it scales in steps on the queue's
 * absolute depth (and CPU), not on the backlog per task, makes its own queue unless given one
 * and grants the task role the whole queue API; tq's queue has its DLQ and redrive from
 * `TqTopology`, and the role here is narrower.
 */
export class TqWorkerService extends Construct {
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** The queue's name (a plain string, not a token). */
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  /** The backlog per task the service aims at. */
  readonly backlogTarget: number;

  constructor(scope: Construct, id: string, props: TqWorkerServiceProps) {
    super(scope, id);
    const { topology, task } = props;
    const { registry } = topology.desired;
    const definition = registry.get(task) as TaskDefinition | undefined;
    if (!definition) throw new Error(`unknown task "${task}" (this topology's tasks: ${registry.names().join(', ')})`);
    const spec = topology.desired.queues.find(
      (queue) => queue.role === 'task' && queue.task === task && !queue.consumer,
    );
    if (!spec?.deadLetterQueue) throw new Error(`task ${task} is not in this topology`);
    this.queueName = spec.name;
    this.deadLetterQueueName = spec.deadLetterQueue;
    this.queue = topology.queueNamed(spec.name);
    this.deadLetterQueue = topology.queueNamed(spec.deadLetterQueue);
    const fifo = spec.fifo;
    // Every default is a fact of the task's definition, the one place it is stated.
    const cpu = props.cpu ?? definition.scaling.cpu;
    const declared = definition.worker.concurrency;
    const concurrency = props.concurrency ?? (declared === 'cores' ? Math.max(1, Math.floor(cpu / 1024)) : declared);
    const graceSeconds = props.shutdownGraceSeconds ?? 25;

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu,
      memoryLimitMiB: props.memoryLimitMiB ?? definition.scaling.memoryMiB,
    });
    const role = this.taskDefinition.taskRole;
    grantConsume(role, this.queue, this.deadLetterQueue);
    const s3Allow = this.#grantS3(role, props, definition);
    const sends = props.sends ?? definition.sends;
    if (sends.length > 0) topology.grantSend(role, sends);
    // Each task's steps go to the status table (writes only: reading is for tq status and producers).
    topology.grantStatusWrite(role);
    const guarded = (props.idempotency ?? definition.idempotency) && topology.idempotencyTable !== undefined;
    if (guarded) topology.grantIdempotency(role);

    addWorkerContainer(this, this.taskDefinition, {
      image: props.image,
      environment: {
        ...topology.environment(),
        // A FIFO task's worker reads <prefix>-<task>.fifo.
        ...(fifo ? { TQ_FIFO_TASKS: task } : {}),
        ...(s3Allow.length > 0 ? { TQ_S3_ALLOW: s3Allow.join(',') } : {}),
        TQ_CONCURRENCY: String(concurrency),
        TQ_IDEMPOTENCY: guarded ? 'on' : 'off',
        ...props.environment,
      },
      ...(props.secrets ? { secrets: props.secrets } : {}),
      streamPrefix: task,
      graceSeconds,
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });

    const scaling: TqBacklogScaling = {
      minTasks: definition.scaling.minTasks,
      maxTasks: definition.scaling.maxTasks,
      secondsPerMessage: definition.scaling.secondsPerMessage,
      ...props.scaling,
    };
    const scaleToZero = scaling.scaleToZero ?? scaling.minTasks === 0;
    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: scaleToZero ? 0 : (scaling.minTasks ?? 1),
      minHealthyPercent: 100,
      circuitBreaker: { rollback: true },
    });
    this.backlogTarget = backlogTarget({
      acceptableLatencySeconds: scaling.acceptableLatencySeconds ?? 60,
      secondsPerMessage: scaling.secondsPerMessage ?? definition.scaling.secondsPerMessage,
      concurrency,
    });
    this.#scale(props.cluster, scaling, scaleToZero);
  }

  /** The allow-list, and object reads (and writes) on exactly its locations plus the claim checks. */
  #grantS3(role: iam.IRole, props: TqWorkerServiceProps, definition: TaskDefinition): string[] {
    const bucket = props.topology.desired.bucket;
    const allow = [...(props.s3Allow ?? definition.s3Allow ?? (bucket ? [`s3://${bucket}/`] : []))];
    if (allow.length === 0) return allow;
    const arns = (uri: string) => {
      // `s3://bucket` is the whole bucket, as the worker reads its TQ_S3_ALLOW.
      const location = parseS3Uri(/^s3:\/\/[^/]+$/.test(uri) ? `${uri}/` : uri);
      return `arn:${Stack.of(this).partition}:s3:::${location.bucket}/${location.key}*`;
    };
    const reads = allow.map(arns);
    if (bucket) reads.push(arns(formatS3Uri(bucket, 'tq/claim-checks/')));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: reads }));
    const writes = props.writesS3 ?? definition.s3Writes;
    if (writes) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: allow.map(arns) }),
      );
    }
    const key = props.topology.bucket?.encryptionKey;
    if (key && props.topology.bucket) {
      if (writes) key.grantEncryptDecrypt(role);
      else key.grantDecrypt(role);
    }
    // cdk-nag names each wildcard resource in its finding; each is acknowledged on its own.
    for (const arn of new Set(reads)) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${arn.replace(`arn:${Stack.of(this).partition}:`, 'arn:<AWS::Partition>:')}]`,
        reason:
          'Object keys are not known in advance: the grant ends in `<bucket>/<prefix>*` for exactly one location of TQ_S3_ALLOW (or the claim checks), the list the worker itself enforces before any S3 call.',
      });
    }
    return allow;
  }

  /**
   * Target tracking on the backlog per task (the queue's visible messages over the running
   * tasks, from Container Insights), plus a step that starts the first task when it may scale
   * to zero (a backlog per task cannot be computed with none running).
   */
  #scale(cluster: ecs.ICluster, scaling: TqBacklogScaling, scaleToZero: boolean): void {
    const capacity = this.service.autoScaleTaskCount({
      minCapacity: scaleToZero ? 0 : (scaling.minTasks ?? 1),
      maxCapacity: scaling.maxTasks ?? 10,
    });
    const target = capacity.node.findChild('Target') as appscaling.ScalableTarget;
    new appscaling.CfnScalingPolicy(this, 'BacklogPerTask', {
      policyName: `${this.queueName}-backlog-per-task`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: target.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: this.backlogTarget,
        scaleInCooldown: 120,
        scaleOutCooldown: 30,
        customizedMetricSpecification: {
          metrics: [
            {
              id: 'visible',
              metricStat: {
                metric: {
                  namespace: 'AWS/SQS',
                  metricName: 'ApproximateNumberOfMessagesVisible',
                  dimensions: [{ name: 'QueueName', value: this.queueName }],
                },
                stat: 'Sum',
              },
              returnData: false,
            },
            {
              id: 'running',
              metricStat: {
                metric: {
                  namespace: 'ECS/ContainerInsights',
                  metricName: 'RunningTaskCount',
                  dimensions: [
                    { name: 'ClusterName', value: cluster.clusterName },
                    { name: 'ServiceName', value: this.service.serviceName },
                  ],
                },
                stat: 'Average',
              },
              returnData: false,
            },
            { id: 'backlog', expression: 'visible / running', label: 'backlog per task', returnData: true },
          ],
        },
      },
    });
    if (scaleToZero) {
      capacity.scaleOnMetric('StartFromZero', {
        metric: this.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
        scalingSteps: [
          { upper: 0, change: 0 },
          { lower: 1, change: 1 },
        ],
        adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        cooldown: Duration.seconds(60),
      });
    }
  }
}
