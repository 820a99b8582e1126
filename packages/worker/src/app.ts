import { availableParallelism } from 'node:os';
import { S3Client } from '@aws-sdk/client-s3';
import {
  awsClientSettings,
  readEnvironment,
  serviceEndpoint,
  type TaskDefinition,
  type TaskName,
  type TqEnvironment,
} from '@tq/contracts';
import { idempotencyEnabled, probeDynamoDb, statusEnabled } from '@tq/status';
import { type Logger, pino } from 'pino';
import { readWorkerEnvironment, type WorkerEnvironment } from './env.js';
import type { Worker, WorkerOptions } from './types.js';

/** What `runWorkerApp` hands an app's factory. */
export interface WorkerAppContext {
  env: TqEnvironment;
  /** An S3 client for the configured endpoint, destroyed when the worker stops. */
  s3: S3Client;
  logger: Logger;
  /** Runtime options from the environment (concurrency, timeouts, http) with endpoint, region, prefix and logger. */
  worker: Omit<WorkerOptions<TaskName>, 'task' | 'handler'>;
  /** Registers clean-up to run once the worker has stopped. */
  onStopped(close: () => void): void;
}

/**
 * The `main` of a worker app: reads and checks the environment (`TQ_*`, `AWS_REGION`, the
 * app's own through `create`), builds the worker (recording task status unless `TQ_STATUS=off`; guarding effects when the app
 * asks for it, unless `TQ_IDEMPOTENCY=off`), starts it (it stops on SIGTERM/SIGINT) and
 * closes what was registered once it stopped. A configuration error is logged as one fatal
 * line and the process exits 1.
 */
export async function runWorkerApp<TTask extends TaskName>(options: {
  name: string;
  /**
   * The definition of the task it consumes: its worker defaults (concurrency, handler timeout),
   * its queue's visibility timeout and whether its effect is guarded come from there, so they
   * are stated once, in the project's config.
   */
  task?: TaskDefinition;
  /** Defaults beyond (or over) the task's: the app's own, such as its HTTP port. */
  defaults?: Partial<Omit<WorkerEnvironment, 'http'>> & { httpPort?: number };
  /**
   * Whether the app guards its handler's effect with the idempotency guard (`idempotency` of
   * `createWorker`) unless `TQ_IDEMPOTENCY` says otherwise. Default: the task's `idempotency`, else false.
   */
  idempotency?: boolean;
  /** Builds the app's worker (it may load what it needs first, such as the project's config). */
  create(context: WorkerAppContext): Worker<TTask> | Promise<Worker<TTask>>;
}): Promise<void> {
  const logger = pino({ name: options.name, level: process.env.LOG_LEVEL ?? 'info' });
  // tq pins AWS SDK releases that run on Node 20; the SDK's warning is about later releases,
  // which tq does not use, so a worker's first log line is not a warning it cannot act on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    const env = readEnvironment();
    const task = options.task;
    const runtime = readWorkerEnvironment(process.env, {
      ...(task
        ? {
            concurrency: task.worker.concurrency === 'cores' ? availableParallelism() : task.worker.concurrency,
            visibilityTimeoutSeconds: task.queue.visibilityTimeoutSeconds,
            handlerTimeoutMs: task.worker.handlerTimeoutMs,
          }
        : {}),
      ...options.defaults,
    });
    // Apps record task status unless TQ_STATUS=off (the library's default is off).
    let status = statusEnabled(true);
    let idempotency = idempotencyEnabled(options.idempotency ?? task?.idempotency ?? false);
    if ((status || idempotency) && (await probeDynamoDb()) === 'missing') {
      const off =
        status && idempotency
          ? 'task status and idempotency records are'
          : status
            ? 'task status is'
            : 'idempotency records are';
      logger.warn(
        `${serviceEndpoint('dynamodb', env)} serves no DynamoDB: ${off} off (point TQ_DYNAMODB_ENDPOINT at an endpoint that serves it to turn them on)`,
      );
      status = false;
      idempotency = false;
    }
    const s3 = new S3Client(awsClientSettings(env));
    const closers: (() => void)[] = [() => s3.destroy()];
    const worker = await options.create({
      env,
      s3,
      logger,
      worker: {
        ...runtime,
        region: env.region,
        prefix: env.prefix,
        ...(env.endpoint ? { endpoint: env.endpoint } : {}),
        logger,
        status,
        idempotency,
      },
      onStopped: (close) => closers.push(close),
    });
    worker.once('stopped', () => {
      for (const close of closers) close();
    });
    await worker.start();
  } catch (error) {
    logger.fatal({ err: error }, (error as Error).message);
    process.exitCode = 1;
  }
}
