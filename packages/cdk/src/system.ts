import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { TqConfig, WorkerApp } from '@tq/contracts';
import { defineSchedule, type ScheduleDefinition, type ScheduleOptions } from '@tq/topology';
import { type App, CfnOutput, RemovalPolicy, Stack, type StackProps, Stage, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { TqActiveMqBridgeService } from './bridge-service.js';
import { TqTopology } from './topology.js';
import { TqWorkerService } from './worker-service.js';

// A project's whole system on AWS, from its tq.config.ts: a core stack and one stack per worker app.

/** Where the worker apps' images come from. */
export type TqImageSource = 'ecr' | 'asset';

/** Settings of the system, from the CDK context (`-c key=value` or cdk.json). */
export interface TqSystemSettings {
  /** `tq:prefix`: TQ_PREFIX of every resource. Default `tq`. */
  prefix: string;
  /** `tq:tag` for every app, `tq:tag:<app>` for one: the image tag each worker stack runs (`ecr`). Default `latest`. */
  tags: Record<string, string>;
  /**
   * `tq:images`: `ecr` runs each app from its repository at its tag (push images yourself,
   * deploy apps alone); `asset` has `cdk deploy` build each app's image and push it to the
   * bootstrap repository: from `<tq:deployDir>/<app>/Dockerfile` when there is one (what
   * `pnpm --filter <app> run deploy` writes in the tq repository), else from the project's own
   * `Dockerfile` with the build arguments `TQ_APP` and `TQ_MAIN` (what `tq init` writes).
   */
  images: TqImageSource;
  /** `tq:deployDir`: where app folders with their own Dockerfile are. Default `<project>/deploy`. */
  deployDir: string;
  /**
   * `tq:activemqUrl`: the broker's STOMP URL. With it, the topology gets the ActiveMQ bridge's
   * copy queues and the app a bridge stack (its credentials: the secret `<prefix>/activemq`,
   * with `username` and `password`).
   */
  activemqUrl: string | undefined;
  /**
   * `tq:schedules`: a schedules file (the `tq.schedules.json` of `tq up`: a list of
   * `defineSchedule` options, or `{ "schedules": [...] }`), relative to the project: each becomes
   * an EventBridge Scheduler schedule of the core. Checked at synth: a bad payload fails it.
   */
  schedules: ScheduleDefinition[];
}

/** What `buildSystem` takes besides the app and the config. */
export interface TqSystemOptions {
  /** The project's folder (its config file's): relative paths of the config and context start there. */
  root: string;
  /** `tq:images` when the context does not say. Default `asset`. */
  images?: TqImageSource;
  /** Every stack's props (an `env` with account and region, tags, a synthesizer). */
  stackProps?: StackProps;
}

/** Reads and checks a schedules file (what `tq up --schedules` reads) against the project's tasks. */
export function readSchedules(file: string, config: TqConfig): ScheduleDefinition[] {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const list = Array.isArray(raw) ? raw : (raw as { schedules?: unknown }).schedules;
  if (!Array.isArray(list)) throw new Error(`${file} must hold a list of schedules, or { "schedules": [...] }`);
  return list.map((entry) => defineSchedule({ ...(entry as ScheduleOptions), registry: config.registry }));
}

/** Reads the settings from the app's context, for the project's worker apps. */
export function systemSettings(app: App, config: TqConfig, options: TqSystemOptions): TqSystemSettings {
  const context = (key: string): string | undefined => {
    const value = app.node.tryGetContext(key);
    return value === undefined ? undefined : String(value);
  };
  const tag = context('tq:tag') ?? 'latest';
  const images = context('tq:images') ?? options.images ?? 'asset';
  if (images !== 'ecr' && images !== 'asset') throw new Error(`tq:images is "${images}": use ecr or asset`);
  const schedules = context('tq:schedules');
  return {
    prefix: context('tq:prefix') ?? 'tq',
    tags: Object.fromEntries(
      [...config.workers.map((worker) => worker.name), BRIDGE_APP].map((name) => [
        name,
        context(`tq:tag:${name}`) ?? tag,
      ]),
    ),
    images,
    activemqUrl: context('tq:activemqUrl'),
    schedules: schedules ? readSchedules(resolve(options.root, schedules), config) : [],
    deployDir: resolve(options.root, context('tq:deployDir') ?? 'deploy'),
  };
}

/** A stack's name from kebab-case words: `email-worker` → `TqEmailWorker`, under the prefix `shop`: `ShopEmailWorker`. */
export function stackName(app: string, prefix = 'tq'): string {
  const pascal = (words: string) =>
    words.replace(/(^|[-_])([a-z0-9])/gi, (_, _dash: string, letter: string) => letter.toUpperCase());
  return `${pascal(prefix)}${pascal(app)}`;
}

/** The construct id of a secret of the core: `smtp-url` → `SmtpUrl`. */
const secretId = (name: string) => stackName(name, '').replace(/[^A-Za-z0-9]/g, '');

/**
 * The shared part: the topology (topic, queues, DLQs, subscriptions, bucket, status table), the
 * network and the ECS cluster, an image repository per app (`tq:images=ecr`), and the secrets the
 * apps read (`secrets` of each app in the config, created empty for you to set).
 */
export class TqCoreStack extends Stack {
  readonly topology: TqTopology;
  readonly cluster: ecs.Cluster;
  readonly repositories: ReadonlyMap<string, ecr.Repository>;
  /** The apps' secrets by name (`smtp-url`), each `<prefix>/<name>` in Secrets Manager. */
  readonly secrets: ReadonlyMap<string, secretsmanager.Secret>;

  constructor(scope: Construct, id: string, config: TqConfig, settings: TqSystemSettings, props: StackProps = {}) {
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
    for (const app of settings.images === 'ecr' ? apps : []) {
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
    const secrets = new Map<string, secretsmanager.Secret>();
    for (const worker of config.workers) {
      for (const [variable, name] of Object.entries(worker.secrets)) {
        if (secrets.has(name)) continue;
        const secret = new secretsmanager.Secret(this, secretId(name), {
          secretName: `${settings.prefix}/${name}`,
          description: `${variable} of ${worker.name} (set it after the first deploy)`,
        });
        Validations.of(secret).acknowledge({
          id: 'AwsSolutions::AwsSolutions-SMG4',
          reason:
            "An app's secret is a credential of an outside provider (an SMTP relay's password, an API key): it is rotated at the provider, not by a Secrets Manager rotation Lambda.",
        });
        secrets.set(name, secret);
      }
    }
    this.secrets = secrets;
    new CfnOutput(this, 'TopicArn', { value: this.topology.topic.topicArn, description: 'TQ_TOPIC_ARN for producers' });
    new CfnOutput(this, 'Prefix', { value: settings.prefix, description: 'TQ_PREFIX' });
  }
}

/** The image of an app: its repository at its tag, or built by `cdk deploy` from its Dockerfile. */
function imageOf(
  scope: Construct,
  core: TqCoreStack,
  app: string,
  main: string | undefined,
  settings: TqSystemSettings,
  root: string,
): ecs.ContainerImage {
  if (settings.images === 'ecr') {
    return ecs.ContainerImage.fromEcrRepository(
      core.repositories.get(app) as ecr.Repository,
      settings.tags[app] ?? 'latest',
    );
  }
  const folder = join(settings.deployDir, app);
  if (existsSync(join(folder, 'Dockerfile'))) return ecs.ContainerImage.fromAsset(folder);
  if (main !== undefined && existsSync(join(root, 'Dockerfile'))) {
    // The project's one Dockerfile builds every app: which one, its build arguments say.
    // Not the assembly being written (wherever CDK_OUTDIR puts it), nor what the image installs itself.
    const outdir = relative(root, Stage.of(scope)?.outdir ?? join(root, 'cdk.out'));
    const inside = outdir !== '' && !outdir.startsWith('..') && !isAbsolute(outdir);
    return ecs.ContainerImage.fromAsset(root, {
      buildArgs: { TQ_APP: app, TQ_MAIN: relative(root, resolve(root, main)).split('\\').join('/') },
      exclude: ['cdk.out', 'node_modules', '.git', ...(inside ? [outdir.split('\\').join('/')] : [])],
    });
  }
  throw new Error(
    `${Stack.of(scope).stackName}: tq:images=asset needs ${join(folder, 'Dockerfile')} (\`pnpm --filter @tq/${app} run deploy\` writes it in the tq repository) or a Dockerfile in ${root} (tq init writes one); or use -c tq:images=ecr`,
  );
}

/** One worker app's service, deployable on its own (`cdk deploy TqEmailWorker -c tq:tag:email-worker=1.4.0`). */
export class TqWorkerStack extends Stack {
  readonly service: TqWorkerService;

  constructor(
    scope: Construct,
    id: string,
    core: TqCoreStack,
    worker: WorkerApp,
    settings: TqSystemSettings & { root: string },
    props: StackProps = {},
  ) {
    super(scope, id, { description: `tq: ${worker.name} (${worker.task})`, ...props });
    // Sends, scaling, CPU, memory, concurrency and idempotency come from the task's definition;
    // the app's own settings and secrets from its entry in the config.
    this.service = new TqWorkerService(this, 'Worker', {
      topology: core.topology,
      cluster: core.cluster,
      task: worker.task,
      image: imageOf(this, core, worker.name, worker.main, settings, settings.root),
      environment: { ...worker.environment },
      secrets: Object.fromEntries(
        Object.entries(worker.secrets).map(([variable, name]) => [
          variable,
          ecs.Secret.fromSecretsManager(core.secrets.get(name) as secretsmanager.Secret),
        ]),
      ),
    });
  }
}

/** The ActiveMQ bridge's app folder and repository name. */
export const BRIDGE_APP = 'activemq-bridge';

/** The ActiveMQ bridge (with `tq:activemqUrl`), deployable on its own like a worker app. */
export class TqBridgeStack extends Stack {
  readonly service: TqActiveMqBridgeService;

  constructor(
    scope: Construct,
    id: string,
    core: TqCoreStack,
    settings: TqSystemSettings & { root: string },
    props: StackProps = {},
  ) {
    super(scope, id, { description: 'tq: the ActiveMQ bridge', ...props });
    const credentials = secretsmanager.Secret.fromSecretNameV2(this, 'Credentials', `${settings.prefix}/activemq`);
    this.service = new TqActiveMqBridgeService(this, 'Bridge', {
      topology: core.topology,
      cluster: core.cluster,
      brokerUrl: settings.activemqUrl as string,
      brokerCredentials: credentials,
      image: imageOf(this, core, BRIDGE_APP, undefined, settings, settings.root),
    });
  }
}

/**
 * Every stack of a project's system, in the app: the core (`<Prefix>Core`) and one stack per
 * worker app of its config (`<Prefix><App>`), each depending on the core only, so one app
 * deploys alone. Settings come from the app's context (`TqSystemSettings`).
 */
export function buildSystem(
  app: App,
  config: TqConfig,
  options: TqSystemOptions,
): { core: TqCoreStack; workers: Stack[]; settings: TqSystemSettings } {
  const settings = systemSettings(app, config, options);
  const props = options.stackProps ?? {};
  const withRoot = { ...settings, root: options.root };
  const core = new TqCoreStack(app, stackName('core', settings.prefix), config, settings, props);
  const workers: Stack[] = config.workers.map(
    (worker) => new TqWorkerStack(app, stackName(worker.name, settings.prefix), core, worker, withRoot, props),
  );
  if (settings.activemqUrl) {
    workers.push(new TqBridgeStack(app, stackName(BRIDGE_APP, settings.prefix), core, withRoot, props));
  }
  for (const stack of workers) stack.addStackDependency(core);
  return { core, workers, settings };
}
