/// <reference path="./dynalite.d.ts" />
import { join } from 'node:path';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';
import { LocalScheduler } from './local-scheduler.js';
import { createStores, debouncedSaver, StateDirectory } from './persistence.js';
import { RequestCounter } from './request-counter.js';

/** Static credentials for the local endpoint, which checks none. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

/** Options for `startLocalEndpoint`. */
export interface LocalEndpointOptions {
  /** 0 (the default) lets the OS pick a free port. */
  port?: number;
  /** Interface to listen on. Defaults to 127.0.0.1: the endpoint has no authentication. */
  host?: string;
  region?: string;
  /** Fastify request logging of the emulator (default false). */
  logger?: boolean;
  /**
   * Keep the state (queues, messages, topics, subscriptions, buckets, objects) in this folder:
   * loaded on start, saved shortly after every change and on stop. Default: memory only.
   */
  dataDir?: string;
  /**
   * Serve DynamoDB on the same port (`dynalite`, requests told apart by their `X-Amz-Target`), so
   * one `TQ_ENDPOINT` covers SQS, SNS, S3 and DynamoDB. Its tables live in `<dataDir>/dynamodb`
   * with `dataDir`, else in memory. Default true.
   */
  dynamodb?: boolean;
  /**
   * Serve EventBridge Scheduler's API on the same port (`LocalScheduler`, requests told apart by
   * their signing service `scheduler`) and fire its schedules into the endpoint's SNS. Its
   * schedules and firings live in `<dataDir>/scheduler.json` with `dataDir`. Default true.
   */
  scheduler?: boolean;
  /** Called when saving the state failed (default: a warning on stderr); the endpoint keeps serving. */
  onSaveError?: (error: unknown) => void;
}

/** A running local SQS/SNS/S3 endpoint. */
export interface LocalEndpoint {
  /** `http://127.0.0.1:<port>`: what `TQ_ENDPOINT` should be set to. */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  /** Client configuration for any AWS SDK v3 client (S3 included: path-style addressing). */
  readonly clientConfig: AwsClientConfig;
  /** The folder the state is kept in, when `dataDir` was given. */
  readonly dataDir: string | undefined;
  /** The EventBridge Scheduler of the endpoint (undefined with `scheduler: false`): its firings. */
  readonly scheduler: LocalScheduler | undefined;
  /** What was loaded from `dataDir` on start. */
  readonly restored: { queues: number; messages: number; objects: number } | undefined;
  /** The AWS requests served so far, by `service:Action` (`sqs:ReceiveMessage`, `sns:Publish`…): what they would cost on AWS. */
  readonly requests: RequestCounter;
  /** Saves the state now (with `dataDir`); `stop()` does too. */
  save(): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The configuration every AWS SDK v3 client of tq takes for a custom endpoint. */
export interface AwsClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle: true;
}

/** Client configuration for an endpoint that is already running (e.g. a `tq up` stack). */
export function localClientConfig(endpoint: string, region = 'us-east-1'): AwsClientConfig {
  return { endpoint, region, credentials: { ...LOCAL_CREDENTIALS }, forcePathStyle: true };
}

/**
 * Starts the SQS/SNS/S3 emulator (`fauxqs`) in this process, on loopback and a free port unless
 * told otherwise. State lives in memory until `stop()`, or also in `dataDir` across restarts.
 */
export async function startLocalEndpoint(options: LocalEndpointOptions = {}): Promise<LocalEndpoint> {
  const region = options.region ?? 'us-east-1';
  const state = options.dataDir ? new StateDirectory(options.dataDir) : undefined;
  const saved = await state?.read();
  const stores = state ? await createStores() : undefined;
  const app = buildApp({
    logger: options.logger ?? false,
    defaultRegion: region,
    ...(stores ? { stores: stores as never } : {}),
  });
  const onSaveError =
    options.onSaveError ??
    ((error: unknown) => process.stderr.write(`tq: could not save local state: ${(error as Error).message}\n`));
  const saver = state && stores ? debouncedSaver(() => state.save(stores), onSaveError) : undefined;
  if (saver) {
    app.addHook('onResponse', (request, _reply, done) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') saver.changed();
      done();
    });
  }
  // Before the hooks that hand DynamoDB and Scheduler requests over: every request is counted.
  const requests = new RequestCounter();
  app.addHook('onRequest', (request, _reply, done) => {
    requests.add(request);
    done();
  });
  app.addHook('preHandler', (request, _reply, done) => {
    requests.addForm(request, request.body);
    done();
  });
  const dynamo =
    options.dynamodb === false
      ? undefined
      : dynalite({
          createTableMs: 0,
          deleteTableMs: 0,
          updateTableMs: 0,
          ...(options.dataDir ? { path: join(options.dataDir, 'dynamodb') } : {}),
        });
  if (dynamo) {
    // dynalite closes its database with its server, so it listens (loopback, a free port) though
    // requests reach it through the endpoint's port, handed over before fauxqs reads the body.
    await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', resolve));
    app.addHook('onRequest', (request, reply, done) => {
      const target = request.headers['x-amz-target'];
      if (typeof target === 'string' && target.startsWith('DynamoDB_')) {
        reply.hijack();
        dynamo.emit('request', request.raw, reply.raw);
        return;
      }
      done();
    });
  }
  const scheduler =
    options.scheduler === false
      ? undefined
      : new LocalScheduler({
          region,
          ...(options.dataDir ? { stateFile: join(options.dataDir, 'scheduler.json') } : {}),
        });
  if (scheduler) {
    app.addHook('onRequest', (request, reply, done) => {
      const authorization = request.headers.authorization;
      if (typeof authorization === 'string' && authorization.includes('/scheduler/aws4_request')) {
        reply.hijack();
        scheduler.handle(request.raw, reply.raw);
        return;
      }
      done();
    });
  }
  let address: string;
  try {
    address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  } catch (error) {
    if (dynamo) await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    throw error;
  }
  const port = Number(new URL(address).port);
  // Synchronously after listen: no request can have arrived yet.
  if (state && stores && saved) state.restore(stores, saved, port);
  // Clients connect over IPv4 loopback even when the listener binds a wildcard address.
  const endpoint = `http://127.0.0.1:${port}`;
  await scheduler?.start(endpoint);
  let stopped: Promise<void> | undefined;
  const save = async () => {
    await saver?.flush();
  };
  const stop = () => {
    stopped ??= (scheduler?.stop() ?? Promise.resolve())
      .then(() => app.close())
      .then(async () => {
        // The server is closed, so nothing changes any more: the last save sees the final state,
        // and no timer or running save of the saver can write after this one.
        await saver?.close();
        if (state && stores) await state.save(stores).catch(onSaveError);
        if (dynamo) await new Promise<void>((resolve) => dynamo.close(() => resolve()));
      });
    return stopped;
  };
  const restored = saved
    ? {
        queues: saved.snapshot.queues.length,
        messages: saved.snapshot.queues.reduce((sum, queue) => sum + queue.messages.length, 0),
        objects: saved.snapshot.buckets.reduce((sum, bucket) => sum + bucket.objects.length, 0),
      }
    : undefined;
  return {
    endpoint,
    port,
    region,
    clientConfig: localClientConfig(endpoint, region),
    dataDir: options.dataDir,
    scheduler,
    restored,
    requests,
    save,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
