import { randomBytes, timingSafeEqual } from 'node:crypto';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { readS3AllowList, type S3AllowList } from '@tq/aws';
import { awsClientSettings, type TaskRegistry, type TqEnvironment } from '@tq/contracts';
import { createProducer, type Producer } from '@tq/producer-sdk';
import { createStatusStore, type StatusStore } from '@tq/status';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { LiveView } from './live.js';
import { DeadLetters, QueueReader } from './queues.js';
import { DeadLetterScans } from './scans.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** What the console's routes share: clients, readers, the registry and the write-token check. */
export class ConsoleContext {
  readonly env: TqEnvironment;
  readonly logger: Logger;
  readonly registry: TaskRegistry;
  readonly tasks: readonly string[];
  readonly loopback: boolean;
  /** The write token; undefined when the console is read-only. */
  readonly token: string | undefined;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly cloudwatch: CloudWatchClient | undefined;
  readonly deadLetters: DeadLetters;
  readonly scans: DeadLetterScans;
  readonly live: LiveView;
  /** Artifacts open through the console (never a public URL), from the allow-list the workers use. */
  readonly artifactsAllowed: S3AllowList;
  #status: StatusStore | undefined;
  #producer: Producer | undefined;

  constructor(options: {
    env: TqEnvironment;
    host: string;
    logger: Logger;
    registry: TaskRegistry;
    token: string | undefined;
    readOnly: boolean | undefined;
    metrics: Readonly<Record<string, string>> | undefined;
    refreshMs: number;
  }) {
    const { env, logger } = options;
    this.env = env;
    this.logger = logger;
    this.registry = options.registry;
    this.tasks = options.registry.names();
    this.loopback = LOOPBACK.test(options.host);
    this.token = options.readOnly
      ? undefined
      : (options.token ??
        (process.env.TQ_CONSOLE_TOKEN || (this.loopback ? randomBytes(18).toString('base64url') : undefined)));
    const settings = awsClientSettings(env);
    this.sqs = new SQSClient(settings);
    this.s3 = new S3Client({ ...settings, forcePathStyle: settings.forcePathStyle ?? false });
    this.cloudwatch = env.endpoint ? undefined : new CloudWatchClient({ ...settings, maxAttempts: 1 });
    const queues = new QueueReader({
      sqs: this.sqs,
      prefix: env.prefix,
      ...(this.cloudwatch ? { cloudwatch: this.cloudwatch } : {}),
    });
    this.deadLetters = new DeadLetters({ sqs: this.sqs, queues, registry: this.registry });
    this.scans = new DeadLetterScans(this.deadLetters);
    this.live = new LiveView({
      queues,
      tasks: this.tasks,
      metrics: options.metrics,
      refreshMs: options.refreshMs,
      logger,
    });
    this.artifactsAllowed = readS3AllowList(process.env.TQ_S3_ALLOW, env.bucket);
  }

  get readOnly(): boolean {
    return this.token === undefined;
  }

  /** The status store, made on first use. */
  status(): StatusStore {
    this.#status ??= createStatusStore({
      prefix: this.env.prefix,
      ...(this.env.endpoint ? { endpoint: this.env.endpoint } : {}),
    });
    return this.#status;
  }

  /** The producer the send form uses, made on first use. */
  producer(): Producer {
    this.#producer ??= createProducer({
      sqs: this.sqs,
      prefix: this.env.prefix,
      region: this.env.region,
      ...(this.env.endpoint ? { endpoint: this.env.endpoint } : {}),
      registry: this.registry,
      largePayloads: { bucket: this.env.bucket },
    });
    return this.#producer;
  }

  /** True for a task of the registry; else answers 404 naming the known ones. */
  knownTask(task: string, reply: FastifyReply): boolean {
    if (this.tasks.includes(task)) return true;
    void reply.code(404).send({ error: `unknown task "${task}" (known: ${this.tasks.join(', ')})` });
    return false;
  }

  /** True when the request carries the write token; else answers 403 (read-only) or 401 and logs it. */
  authorized(request: FastifyRequest, reply: FastifyReply, action: string): boolean {
    const token = this.token;
    if (token === undefined) {
      void reply
        .code(403)
        .send({ error: 'the console is read-only here: set TQ_CONSOLE_TOKEN to allow write actions' });
      return false;
    }
    const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    const ok = given.length === token.length && timingSafeEqual(Buffer.from(given), Buffer.from(token));
    if (!ok) {
      this.logger.warn({ action, from: request.ip }, 'console: write action refused (bad or missing token)');
      void reply.code(401).send({ error: 'this action needs the console token (open the link tq printed)' });
    }
    return ok;
  }

  async close(): Promise<void> {
    this.live.close();
    await this.#producer?.close();
    await this.#status?.close();
    this.sqs.destroy();
    this.s3.destroy();
    this.cloudwatch?.destroy();
  }
}
