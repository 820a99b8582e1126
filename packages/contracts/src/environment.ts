import { TASK_NAME_PATTERN } from './registry.js';

/** Configuration every tq component reads from the environment (DESIGN.md "Configuration"). */
export interface TqEnvironment {
  /** Custom endpoint (local fauxqs, LocalStack, ElasticMQ); undefined means real AWS. */
  endpoint: string | undefined;
  region: string;
  prefix: string;
  bucket: string;
  /**
   * Task types whose queues are FIFO (`TQ_FIFO_TASKS`, comma-separated): provisioning creates
   * `<prefix>-<task>.fifo` and its `-dlq.fifo` instead of the standard pair, workers consume it,
   * producers send those tasks straight to it with a message group.
   */
  fifoTasks: readonly string[];
  /**
   * The ActiveMQ bridge's share of the topology: set when `TQ_ACTIVEMQ_URL` (or `TQ_ACTIVEMQ=1`,
   * `tq up`'s local broker) is, with the task types it forwards (`TQ_ACTIVEMQ_TASKS`,
   * comma-separated; default every task). Provisioning then gives each of them a copy queue
   * (`<prefix>-<task>-activemq` and its DLQ) that the topic feeds beside the task's own.
   */
  activemq: { tasks: readonly string[] | 'all' } | undefined;
  /**
   * The topic's ARN (`TQ_TOPIC_ARN`), as a deployment gives it (`TqTopology.environment()`):
   * producers publish to it without listing topics (no `sns:ListTopics` permission needed).
   */
  topicArn: string | undefined;
}

/** Thrown when an environment variable holds a value tq cannot use. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_CONFIG' as const;
}

/**
 * Reads and validates `TQ_ENDPOINT`, `AWS_REGION`, `TQ_PREFIX`, `TQ_BUCKET`, `TQ_FIFO_TASKS` and the ActiveMQ bridge's `TQ_ACTIVEMQ_URL`/`TQ_ACTIVEMQ`/`TQ_ACTIVEMQ_TASKS`. Throws
 * `ConfigError` naming the variable, its value and what it must be.
 */
export function readEnvironment(
  env: Readonly<Record<string, string | undefined>> = globalThis.process?.env ?? {},
): TqEnvironment {
  const endpoint = env.TQ_ENDPOINT || undefined;
  if (endpoint !== undefined) checkHttpUrl('TQ_ENDPOINT', endpoint, 'http://127.0.0.1:4566');
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new ConfigError(`AWS_REGION is "${region}", must be a region name such as eu-west-1`);
  }
  const prefix = env.TQ_PREFIX || 'tq';
  if (!/^[a-zA-Z0-9_-]{1,40}$/.test(prefix)) {
    throw new ConfigError(`TQ_PREFIX is "${prefix}", must be 1-40 letters, digits, - or _`);
  }
  const bucket = env.TQ_BUCKET || `${prefix.toLowerCase().replace(/_/g, '-')}-artifacts`;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(
      `TQ_BUCKET is "${bucket}", must be a valid S3 bucket name (3-63 lowercase letters, digits, . or -)`,
    );
  }
  const fifoTasks = taskList(env, 'TQ_FIFO_TASKS');
  const activemqTasks = taskList(env, 'TQ_ACTIVEMQ_TASKS');
  const activemq =
    env.TQ_ACTIVEMQ_URL || env.TQ_ACTIVEMQ === '1' || activemqTasks.length > 0
      ? { tasks: activemqTasks.length > 0 ? activemqTasks : ('all' as const) }
      : undefined;
  const topicArn = env.TQ_TOPIC_ARN || undefined;
  if (topicArn !== undefined && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(topicArn)) {
    throw new ConfigError(
      `TQ_TOPIC_ARN is "${topicArn}", must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:tq-tasks`,
    );
  }
  return { endpoint, region, prefix, bucket, fifoTasks, activemq, topicArn };
}

/** A comma-separated list of task types from `name` (empty when unset); throws `ConfigError` for a bad name. */
function taskList(env: Readonly<Record<string, string | undefined>>, name: string): string[] {
  const tasks = (env[name] ?? '')
    .split(',')
    .map((task) => task.trim())
    .filter((task) => task !== '');
  const badTask = tasks.find((task) => !new RegExp(TASK_NAME_PATTERN).test(task));
  if (badTask !== undefined) {
    throw new ConfigError(
      `${name} names "${badTask}", must be a comma-separated list of task types such as send_email,generate_report`,
    );
  }
  return tasks;
}

/**
 * The queue that gives a second consumer (the ActiveMQ bridge: `activemq`) its own copy of a
 * task type: `<prefix>-<task>-<consumer>`, subscribed to the topic like the task's own queue.
 * Its dead-letter queue is this name plus `-dlq`.
 */
export function copyQueueName(prefix: string, task: string, consumer: string): string {
  return `${prefix}-${task}-${consumer}`;
}

/** The SNS topic every task is published to: `<prefix>-tasks`. */
export function topicName(prefix: string): string {
  return `${prefix}-tasks`;
}

/** The queue a task type is consumed from: `<prefix>-<task>` (`.fifo` appended for FIFO). */
export function queueName(prefix: string, task: string, fifo = false): string {
  return `${prefix}-${task}${fifo ? '.fifo' : ''}`;
}

/** The dead-letter queue of a task queue: `<prefix>-<task>-dlq`. */
export function dlqName(prefix: string, task: string, fifo = false): string {
  return `${prefix}-${task}-dlq${fifo ? '.fifo' : ''}`;
}

/** Configuration for AWS SDK v3 clients (SQS, SNS, S3), as plain data. */
export interface AwsClientSettings {
  region: string;
  endpoint?: string;
  /** Set for custom endpoints only: local emulators take any key, and path-style S3 needs no DNS. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle?: boolean;
}

/**
 * Client settings for an environment: real AWS (default credential chain) when `TQ_ENDPOINT`
 * is unset; with it, that endpoint, path-style S3, and static credentials unless
 * `AWS_ACCESS_KEY_ID` is set. The same code runs against both; only this object differs.
 */
export function awsClientSettings(
  environment: TqEnvironment,
  env: Readonly<Record<string, string | undefined>> = globalThis.process?.env ?? {},
): AwsClientSettings {
  if (!environment.endpoint) return { region: environment.region };
  const settings: AwsClientSettings = {
    region: environment.region,
    endpoint: environment.endpoint,
    forcePathStyle: true,
  };
  if (!env.AWS_ACCESS_KEY_ID) settings.credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  return settings;
}

/** The AWS services tq calls. */
export type AwsService = 'sqs' | 'sns' | 's3' | 'dynamodb' | 'scheduler';

/**
 * The variables that point one service at an endpoint of its own, for mixed setups: an
 * SQS/SNS/S3 emulator (ElasticMQ, plain fauxqs) beside a separate DynamoDB (dynalite, DynamoDB
 * Local) or EventBridge Scheduler.
 */
export const SERVICE_ENDPOINT_VARIABLES: Readonly<Partial<Record<AwsService, string>>> = {
  dynamodb: 'TQ_DYNAMODB_ENDPOINT',
  scheduler: 'TQ_SCHEDULER_ENDPOINT',
};

/**
 * Where a service's calls go: its own variable (`TQ_DYNAMODB_ENDPOINT`, `TQ_SCHEDULER_ENDPOINT`)
 * when set, else `TQ_ENDPOINT`, else real AWS (undefined). The one endpoint resolution every tq
 * package uses. Throws `ConfigError` when the service's variable is not an http(s) URL.
 */
export function serviceEndpoint(
  service: AwsService,
  environment: TqEnvironment,
  env: Readonly<Record<string, string | undefined>> = globalThis.process?.env ?? {},
): string | undefined {
  const variable = SERVICE_ENDPOINT_VARIABLES[service];
  const own = variable === undefined ? undefined : env[variable] || undefined;
  if (own === undefined) return environment.endpoint;
  checkHttpUrl(variable as string, own, 'http://127.0.0.1:8000');
  return own;
}

/** Throws `ConfigError` naming the variable unless its value is an http(s) URL. */
function checkHttpUrl(variable: string, value: string, example: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(`${variable} is "${value}", must be an http(s) URL such as ${example}`);
  }
}

/** `awsClientSettings` for one service's client, at the endpoint `serviceEndpoint` resolves for it. */
export function awsServiceSettings(
  service: AwsService,
  environment: TqEnvironment,
  env: Readonly<Record<string, string | undefined>> = globalThis.process?.env ?? {},
): AwsClientSettings {
  return awsClientSettings({ ...environment, endpoint: serviceEndpoint(service, environment, env) }, env);
}
