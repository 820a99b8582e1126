import { buildApp } from 'fauxqs';

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
}

/** A running local SQS/SNS/S3 endpoint. */
export interface LocalEndpoint {
  /** `http://127.0.0.1:<port>`: what `TQ_ENDPOINT` should be set to. */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  /** Client configuration for any AWS SDK v3 client (S3 included: path-style addressing). */
  readonly clientConfig: AwsClientConfig;
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
 * Starts the in-memory SQS/SNS/S3 emulator (`fauxqs`) in this process, on loopback and a free
 * port unless told otherwise. State lives until `stop()`.
 */
export async function startLocalEndpoint(options: LocalEndpointOptions = {}): Promise<LocalEndpoint> {
  const region = options.region ?? 'us-east-1';
  const app = buildApp({ logger: options.logger ?? false, defaultRegion: region });
  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const port = Number(new URL(address).port);
  // Clients connect over IPv4 loopback even when the listener binds a wildcard address.
  const endpoint = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= app.close().then(() => undefined);
    return stopped;
  };
  return {
    endpoint,
    port,
    region,
    clientConfig: localClientConfig(endpoint, region),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
