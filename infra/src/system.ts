import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TqActiveMqBridgeService, TqTopology, TqWorkerService } from '@tq/cdk';
import type { TqConfig, WorkerApp } from '@tq/contracts';
import { defineSchedule, type ScheduleDefinition, type ScheduleOptions } from '@tq/topology';
import { type App, CfnOutput, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/** Settings of the system, from the CDK context (`-c key=value` or cdk.json). */
export interface SystemSettings {
  /** `tq:prefix`: TQ_PREFIX of every resource. Default `tq`. */
  prefix: string;
  /** `tq:emailFrom`: the email worker's EMAIL_FROM. */
  emailFrom: string;
  /** `tq:tag` for every app, `tq:tag:<app>` for one: the image tag each worker stack runs. Default `latest`. */
  tags: Record<string, string>;
  /**
   * `tq:images`: `ecr` (default) runs each app from its repository at its tag; `asset` has
   * `cdk deploy` build each app's Dockerfile from `tq:deployDir/<app>` (default `../deploy`, what
   * `pnpm --filter <app> run deploy` writes) and push it to the bootstrap repository.
   */
  images: 'ecr' | 'asset';
  deployDir: string;
  /**
   * `tq:activemqUrl`: the broker's STOMP URL. With it, the topology gets the ActiveMQ bridge's
   * copy queues and the app a `TqActivemqBridge` stack (its credentials: the secret
   * `<prefix>/activemq`, with `username` and `password`).
   */
  activemqUrl: string | undefined;
  /**
   * `tq:schedules`: a schedules file (the `tq.schedules.json` of `tq up`: a list of
   * `defineSchedule` options, or `{ "schedules": [...] }`), relative to the working directory:
   * each becomes an EventBridge Scheduler schedule of the core. Checked at synth: a bad payload
   * fails it.
   */
  schedules: ScheduleDefinition[];
}

/** Reads and checks a schedules file (what `tq up --schedules` reads) against the project's tasks. */
export function readSchedules(file: string, config: TqConfig): ScheduleDefinition[] {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const list = Array.isArray(raw) ? raw : (raw as { schedules?: unknown }).schedules;
  if (!Array.isArray(list)) throw new Error(`${file} must hold a list of schedules, or { "schedules": [...] }`);
  return list.map((entry) => defineSchedule({ ...(entry as ScheduleOptions), registry: config.registry }));
}

/** Reads the settings from the app's context, for the project's worker apps. */
export function settingsFrom(app: App, config: TqConfig): SystemSettings {
  const context = (key: string): string | undefined => {
    const value = app.node.tryGetContext(key);
    return value === undefined ? undefined : String(value);
  };
  const tag = context('tq:tag') ?? 'latest';
  return {
    prefix: context('tq:prefix') ?? 'tq',
    emailFrom: context('tq:emailFrom') ?? 'tq <no-reply@example.com>',
    tags: Object.fromEntries(
      [...config.workers.map((worker) => worker.name), 'activemq-bridge'].map((name) => [
        name,
        context(`tq:tag:${name}`) ?? tag,
      ]),
    ),
    images: context('tq:images') === 'asset' ? 'asset' : 'ecr',
    activemqUrl: context('tq:activemqUrl'),
    schedules: context('tq:schedules') ? readSchedules(resolve(context('tq:schedules') as string), config) : [],
    deployDir: resolve(context('tq:deployDir') ?? fileURLToPath(new URL('../../deploy', import.meta.url))),
  };
}

/** The name of an app's stack: `email-worker` → `TqEmailWorker`. */
export function stackName(app: string): string {
  return `Tq${app.replace(/(^|-)([a-z])/g, (_, _dash: string, letter: string) => letter.toUpperCase())}`;
}

/**
 * The shared part: the topology (topic, queues, DLQs, subscriptions, bucket, status table), the
 * network and the ECS cluster, an image repository per app, and the SMTP secret.
 */
export class TqCoreStack extends Stack {
  readonly topology: TqTopology;
  readonly cluster: ecs.Cluster;
  readonly repositories: ReadonlyMap<string, ecr.Repository>;
  readonly smtpSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, config: TqConfig, settings: SystemSettings, props: StackProps = {}) {
    super(scope, id, { description: 'tq: topology, status table, network, cluster, image repositories', ...props });
    this.topology = new TqTopology(this, 'Tq', {
      topology: {
        prefix: settings.prefix,
        // The project's tasks: each queue's settings, and each worker service's facts, come from their definitions.
        registry: config.registry,
        // The ActiveMQ bridge's copy of every task, as tq provision makes it with TQ_ACTIVEMQ_URL.
        ...(settings.activemqUrl ? { copies: [{ consumer: 'activemq' }] } : {}),
        schedules: settings.schedules,
      },
    });
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      clusterName: `${settings.prefix}-workers`,
      // RunningTaskCount, which the backlog-per-task scaling divides by, comes from Container Insights.
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const repositories = new Map<string, ecr.Repository>();
    const apps = [...config.workers.map((worker) => worker.name), ...(settings.activemqUrl ? [BRIDGE_APP] : [])];
    for (const app of apps) {
      repositories.set(
        app,
        new ecr.Repository(this, `Repository-${app}`, {
          repositoryName: `${settings.prefix.toLowerCase()}/${app}`,
          imageScanOnPush: true,
          imageTagMutability: ecr.TagMutability.IMMUTABLE,
          lifecycleRules: [{ description: 'keep the last 30 images', maxImageCount: 30 }],
          removalPolicy: RemovalPolicy.RETAIN,
        }),
      );
    }
    this.repositories = repositories;
    this.smtpSecret = new secretsmanager.Secret(this, 'SmtpUrl', {
      secretName: `${settings.prefix}/smtp-url`,
      description:
        'SMTP_URL of the email worker: smtps://user:password@smtp.example.com:465 (set it after the first deploy)',
    });
    Validations.of(this.smtpSecret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        "An SMTP provider's credential is rotated at the provider (SES SMTP credentials, a relay's API key), not by a Secrets Manager rotation Lambda.",
    });
    new CfnOutput(this, 'TopicArn', { value: this.topology.topic.topicArn, description: 'TQ_TOPIC_ARN for producers' });
    new CfnOutput(this, 'Prefix', { value: settings.prefix, description: 'TQ_PREFIX' });
  }
}

/** One worker app's service, deployable on its own (`cdk deploy TqEmailWorker -c tq:tag:email-worker=1.4.0`). */
export class TqWorkerStack extends Stack {
  readonly service: TqWorkerService;

  constructor(
    scope: Construct,
    id: string,
    core: TqCoreStack,
    worker: WorkerApp,
    settings: SystemSettings,
    props: StackProps = {},
  ) {
    super(scope, id, { description: `tq: ${worker.name} (${worker.task})`, ...props });
    const repository = core.repositories.get(worker.name) as ecr.Repository;
    const folder = join(settings.deployDir, worker.name);
    if (settings.images === 'asset' && !existsSync(join(folder, 'Dockerfile'))) {
      throw new Error(
        `tq:images=asset needs ${folder}/Dockerfile: run \`pnpm --filter @tq/${worker.name} run deploy\` first`,
      );
    }
    // This repository's email app: its sender and SMTP secret are deploy settings of the system.
    const email = worker.task === 'send_email';
    // Sends, scaling, CPU, memory, concurrency and idempotency come from the task's definition.
    this.service = new TqWorkerService(this, 'Worker', {
      topology: core.topology,
      cluster: core.cluster,
      task: worker.task,
      image:
        settings.images === 'asset'
          ? ecs.ContainerImage.fromAsset(folder)
          : ecs.ContainerImage.fromEcrRepository(repository, settings.tags[worker.name]),
      environment: { ...(email ? { EMAIL_FROM: settings.emailFrom } : {}), ...worker.environment },
      ...(email ? { secrets: { SMTP_URL: ecs.Secret.fromSecretsManager(core.smtpSecret) } } : {}),
    });
  }
}

/** The ActiveMQ bridge's app folder and repository name. */
export const BRIDGE_APP = 'activemq-bridge';

/** The ActiveMQ bridge (with `tq:activemqUrl`), deployable on its own like a worker app. */
export class TqBridgeStack extends Stack {
  readonly service: TqActiveMqBridgeService;

  constructor(scope: Construct, id: string, core: TqCoreStack, settings: SystemSettings, props: StackProps = {}) {
    super(scope, id, { description: 'tq: the ActiveMQ bridge', ...props });
    const credentials = secretsmanager.Secret.fromSecretNameV2(this, 'Credentials', `${settings.prefix}/activemq`);
    const folder = join(settings.deployDir, BRIDGE_APP);
    this.service = new TqActiveMqBridgeService(this, 'Bridge', {
      topology: core.topology,
      cluster: core.cluster,
      brokerUrl: settings.activemqUrl as string,
      brokerCredentials: credentials,
      image:
        settings.images === 'asset'
          ? ecs.ContainerImage.fromAsset(folder)
          : ecs.ContainerImage.fromEcrRepository(
              core.repositories.get(BRIDGE_APP) as ecr.Repository,
              settings.tags[BRIDGE_APP] ?? 'latest',
            ),
    });
  }
}

/** Every stack of the system, in the app: the core and one stack per worker app of the project's config. */
export function buildSystem(
  app: App,
  config: TqConfig,
  props: StackProps = {},
): { core: TqCoreStack; workers: Stack[] } {
  const settings = settingsFrom(app, config);
  const core = new TqCoreStack(app, 'TqCore', config, settings, props);
  const workers: Stack[] = config.workers.map(
    (worker) => new TqWorkerStack(app, stackName(worker.name), core, worker, settings, props),
  );
  // A deploy of one app needs the core, never another app.
  if (settings.activemqUrl) workers.push(new TqBridgeStack(app, stackName(BRIDGE_APP), core, settings, props));
  for (const stack of workers) stack.addStackDependency(core);
  return { core, workers };
}
