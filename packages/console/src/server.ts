import { registry as builtinRegistry, readEnvironment, type TaskRegistry, type TqEnvironment } from '@tq/contracts';
import Fastify from 'fastify';
import { type Logger, pino } from 'pino';
import { ConsoleContext } from './context.js';
import { dlqRoutes } from './routes/dlq.js';
import { liveRoutes } from './routes/live.js';
import { pageRoutes } from './routes/page.js';
import { taskRoutes } from './routes/tasks.js';

/** What `startConsole` takes; everything defaults from the environment. */
export interface ConsoleOptions {
  /** Interface to listen on. Default 127.0.0.1. Anything else makes the console read-only unless a token is set. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** `TQ_ENDPOINT`, `AWS_REGION`, `TQ_PREFIX`, ... as `readEnvironment` reads them. */
  env?: TqEnvironment;
  /**
   * The token write actions need (`Authorization: Bearer <token>`; the page gets it from the
   * link's `#token=`). Default `TQ_CONSOLE_TOKEN`; on loopback without one, a random token made
   * at start (in the printed link); elsewhere without one, the console is read-only.
   */
  token?: string;
  /** Refuse every write action, whatever the token. Default: read-only only off loopback without a token. */
  readOnly?: boolean;
  /** The workers' `/metrics` URLs by task, for live throughput (`tq up` knows them). */
  metrics?: Readonly<Record<string, string>>;
  registry?: TaskRegistry;
  logger?: Logger;
  /** How often the live view refreshes, in ms. Default 2000. */
  refreshMs?: number;
}

/** A running console. */
export interface Console {
  /** `http://host:port/`. */
  readonly url: string;
  /** The link to open: the URL with the write token in its fragment (never sent to the server in requests' URLs). */
  readonly link: string;
  readonly readOnly: boolean;
  close(): Promise<void>;
}

/**
 * Starts the console: a fastify server with the page (preact + htm, uPlot for the sparklines, all
 * served from here) and its JSON API over the same code paths as the CLI, against the local
 * endpoint or AWS alike. Write actions (redrive, delete, send) need the token and are logged.
 * The routes live in `routes/` (page, live view, dead letters, tasks); what they share in
 * `ConsoleContext`.
 */
export async function startConsole(options: ConsoleOptions = {}): Promise<Console> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? pino({ name: 'tq-console', level: process.env.LOG_LEVEL ?? 'info' });
  const context = new ConsoleContext({
    env: options.env ?? readEnvironment(),
    host,
    logger,
    registry: options.registry ?? builtinRegistry,
    token: options.token,
    readOnly: options.readOnly,
    metrics: options.metrics,
    refreshMs: options.refreshMs ?? 2000,
  });

  // Open event streams end with the server: close() does not wait for the pages to go away.
  const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024, forceCloseConnections: true });
  await pageRoutes(app);
  liveRoutes(app, context);
  dlqRoutes(app, context);
  taskRoutes(app, context);
  app.setErrorHandler((error, _request, reply) => {
    const failure = error as { statusCode?: number; message?: string };
    logger.warn({ err: error }, 'console: request failed');
    const code = failure.statusCode && failure.statusCode < 500 ? failure.statusCode : 502;
    void reply.code(code).send({ error: failure.message ?? String(error) });
  });

  const address = await app.listen({ host, port: options.port ?? 0 });
  const port = Number(new URL(address).port);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  return {
    url,
    link: context.token && context.loopback ? `${url}#token=${context.token}` : url,
    readOnly: context.readOnly,
    async close() {
      context.live.close();
      await app.close();
      await context.close();
    },
  };
}
