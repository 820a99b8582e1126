import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { classifyAwsError, isS3LocationError, openS3Object, readS3AllowList } from '@tq/aws';
import {
  awsClientSettings,
  registry as builtinRegistry,
  jsonSchemas,
  parseTask,
  readEnvironment,
  type TaskRegistry,
  type TqEnvironment,
} from '@tq/contracts';
import { createProducer, type Producer } from '@tq/producer-sdk';
import { createStatusStore, StatusNotTrackedError, type StatusStore } from '@tq/status';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { type Logger, pino } from 'pino';
import { countCodes, type DeadLetter, DeadLetters, QueueReader, type TaskQueueStats } from './queues.js';

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

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const publicDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'public');

/** The vendor files the page imports (served from node_modules: no CDN at run time). */
function vendorFiles(): Record<string, { path: string; type: string }> {
  const require = createRequire(import.meta.url);
  const js = 'text/javascript; charset=utf-8';
  return {
    'preact.mjs': { path: require.resolve('preact'), type: js },
    'hooks.mjs': { path: require.resolve('preact/hooks'), type: js },
    'htm.mjs': { path: join(dirname(require.resolve('htm')), 'htm.mjs'), type: js },
    'uplot.mjs': { path: require.resolve('uplot/dist/uPlot.esm.js'), type: js },
    'uplot.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  };
}

const PAGES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

/**
 * Reads `tq_tasks_succeeded_total` and `tq_messages_received_total` of a worker's `/metrics`, and
 * its `/readyz` beside it.
 */
async function scrape(url: string): Promise<{ received: number; succeeded: number; ready: boolean } | undefined> {
  try {
    const [metrics, readyz] = await Promise.all([
      fetch(url, { signal: AbortSignal.timeout(1000) }),
      fetch(url.replace(/\/metrics$/, '/readyz'), { signal: AbortSignal.timeout(1000) }).catch(() => undefined),
    ]);
    const text = await metrics.text();
    await readyz?.body?.cancel();
    const sum = (name: string) =>
      [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} ([0-9.e+]+)$`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
    return {
      received: sum('tq_messages_received_total'),
      succeeded: sum('tq_tasks_succeeded_total'),
      ready: readyz?.status === 200,
    };
  } catch {
    return undefined;
  }
}

/**
 * Starts the console: a fastify server with the page (preact + htm, uPlot for the sparklines, all
 * served from here) and its JSON API over the same code paths as the CLI, against the local
 * endpoint or AWS alike. Write actions (redrive, delete, send) need the token and are logged.
 */
export async function startConsole(options: ConsoleOptions = {}): Promise<Console> {
  const env = options.env ?? readEnvironment();
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? pino({ name: 'tq-console', level: process.env.LOG_LEVEL ?? 'info' });
  const registry = options.registry ?? builtinRegistry;
  const loopback = LOOPBACK.test(host);
  const token = options.readOnly
    ? undefined
    : (options.token ??
      (process.env.TQ_CONSOLE_TOKEN || (loopback ? randomBytes(18).toString('base64url') : undefined)));
  const readOnly = token === undefined;
  const settings = awsClientSettings(env);
  const sqs = new SQSClient(settings);
  const cloudwatch = env.endpoint ? undefined : new CloudWatchClient({ ...settings, maxAttempts: 1 });
  const queues = new QueueReader({ sqs, prefix: env.prefix, ...(cloudwatch ? { cloudwatch } : {}) });
  const deadLetters = new DeadLetters({ sqs, queues, registry });
  let status: StatusStore | undefined;
  const statusStore = () => {
    status ??= createStatusStore({ prefix: env.prefix, ...(env.endpoint ? { endpoint: env.endpoint } : {}) });
    return status;
  };
  let producer: Producer | undefined;
  const producerFor = () => {
    producer ??= createProducer({
      sqs,
      prefix: env.prefix,
      region: env.region,
      ...(env.endpoint ? { endpoint: env.endpoint } : {}),
      registry,
      largePayloads: { bucket: env.bucket },
    });
    return producer;
  };
  const tasks = registry.names();
  const vendor = vendorFiles();
  // Artifacts open through the console (never a public URL), from the allow-list the workers use.
  const s3 = new S3Client({ ...settings, forcePathStyle: settings.forcePathStyle ?? false });
  const artifactsAllowed = readS3AllowList(process.env.TQ_S3_ALLOW, env.bucket);
  const refreshMs = options.refreshMs ?? 2000;

  // The live view: one poll for every open page, with throughput from the previous sample.
  let latest:
    | {
        at: number;
        queues: TaskQueueStats[];
        rates: Record<string, { received?: number; done?: number }>;
        /** Per task with a known worker: whether its `/readyz` says ready (false: unreachable or not ready). */
        workers: Record<string, boolean>;
      }
    | undefined;
  let previous: { at: number; counters: Record<string, { received: number; succeeded: number }> } | undefined;
  const listeners = new Set<(data: string) => void>();
  const sample = async () => {
    const at = Date.now();
    const stats = await queues.overview(tasks);
    const counters: Record<string, { received: number; succeeded: number }> = {};
    const workers: Record<string, boolean> = {};
    await Promise.all(
      Object.entries(options.metrics ?? {}).map(async ([task, url]) => {
        const read = await scrape(url);
        workers[task] = read?.ready ?? false;
        if (read) counters[task] = read;
      }),
    );
    const rates: Record<string, { received?: number; done?: number }> = {};
    for (const task of tasks) {
      const now = counters[task];
      const before = previous?.counters[task];
      if (now && before && previous) {
        const seconds = (at - previous.at) / 1000;
        rates[task] = {
          received: Math.max(0, (now.received - before.received) / seconds),
          done: Math.max(0, (now.succeeded - before.succeeded) / seconds),
        };
      }
    }
    previous = { at, counters };
    latest = { at, queues: stats, rates, workers };
    const data = JSON.stringify(latest);
    for (const listener of listeners) listener(data);
  };
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    timer = setTimeout(() => {
      void sample()
        .catch((error: unknown) => logger.warn({ err: error }, 'console: reading the queues failed'))
        .finally(() => {
          if (listeners.size > 0) loop();
          else timer = undefined;
        });
    }, refreshMs);
  };

  // DLQ scans are kept per task and refreshed on demand (a page reload, or after an action). A
  // scan serves what it has read so far: the first page comes after one receive, not after all.
  interface ScanState {
    read: readonly DeadLetter[];
    total: number;
    done: boolean;
    error?: string;
    scannedAt: string;
    firstBatch: Promise<void>;
  }
  const scans = new Map<string, ScanState>();
  const scanOf = (task: string, fresh: boolean): ScanState => {
    const existing = scans.get(task);
    if (existing && !fresh) return existing;
    if (existing && fresh && !existing.done) return existing; // one scan at a time
    let first: () => void = () => undefined;
    const state: ScanState = {
      read: [],
      total: 0,
      done: false,
      scannedAt: new Date().toISOString(),
      firstBatch: new Promise<void>((resolve) => {
        first = resolve;
      }),
    };
    scans.set(task, state);
    deadLetters
      .scan(task, 10_000, (read, total) => {
        state.read = read;
        state.total = total;
        first();
      })
      .then(
        (scan) => {
          state.read = scan.read;
          state.total = scan.total;
          state.scannedAt = scan.scannedAt;
        },
        (error: unknown) => {
          state.error = (error as Error).message;
          scans.delete(task);
        },
      )
      .finally(() => {
        state.done = true;
        first();
      });
    return state;
  };

  // Open event streams end with the server: close() does not wait for the pages to go away.
  const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024, forceCloseConnections: true });
  const knownTask = (task: string, reply: FastifyReply) => {
    if (tasks.includes(task)) return true;
    void reply.code(404).send({ error: `unknown task "${task}" (known: ${tasks.join(', ')})` });
    return false;
  };
  const authorized = (request: FastifyRequest, reply: FastifyReply, action: string): boolean => {
    if (readOnly) {
      void reply
        .code(403)
        .send({ error: 'the console is read-only here: set TQ_CONSOLE_TOKEN to allow write actions' });
      return false;
    }
    const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    const ok =
      given.length === (token as string).length && timingSafeEqual(Buffer.from(given), Buffer.from(token as string));
    if (!ok) {
      logger.warn({ action, from: request.ip }, 'console: write action refused (bad or missing token)');
      void reply.code(401).send({ error: 'this action needs the console token (open the link tq printed)' });
    }
    return ok;
  };

  // The page's only inline script is its import map: allowed by its hash, nothing else inline.
  const indexHtml = await readFile(join(publicDir, 'index.html'), 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(indexHtml)?.[1] ?? '';
  const importMapHash = createHash('sha256').update(importMap).digest('base64');
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'sha256-${importMapHash}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', csp);
    return payload;
  });

  app.get('/', async (_request, reply) => {
    reply.type(PAGES['index.html'] as string).header('cache-control', 'no-store');
    return indexHtml;
  });
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());
  app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
    const type = PAGES[request.params.file];
    if (!type) return reply.code(404).send({ error: 'not found' });
    reply.type(type);
    return await readFile(join(publicDir, request.params.file));
  });
  app.get<{ Params: { file: string } }>('/vendor/:file', async (request, reply) => {
    const file = vendor[request.params.file];
    if (!file) return reply.code(404).send({ error: 'not found' });
    reply.type(file.type).header('cache-control', 'public, max-age=86400');
    return await readFile(file.path);
  });

  // The payload schema of each task's latest version: what the send form is generated from.
  const schemas = jsonSchemas(registry);
  const meta = {
    prefix: env.prefix,
    where: env.endpoint ?? `AWS ${env.region}`,
    readOnly,
    tasks: tasks.map((name) => {
      const version = registry.get(name)?.latestVersion ?? 1;
      const file = schemas.find((candidate) => candidate.task === name && candidate.version === version);
      const properties = (file?.schema as { properties?: { payload?: unknown } } | undefined)?.properties;
      return { name, version, schema: properties?.payload ?? {} };
    }),
  };
  app.get('/api/meta', async () => meta);
  app.get('/api/overview', async () => {
    if (!latest || Date.now() - latest.at > refreshMs) await sample();
    return latest;
  });
  app.get('/api/events', (request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const send = (data: string) => reply.raw.write(`data: ${data}\n\n`);
    if (latest) send(JSON.stringify(latest));
    listeners.add(send);
    if (!timer) loop();
    request.raw.on('close', () => listeners.delete(send));
  });

  app.get<{
    Params: { task: string };
    Querystring: { code?: string; offset?: string; limit?: string; fresh?: string };
  }>('/api/dlq/:task', async (request, reply) => {
    const { task } = request.params;
    if (!knownTask(task, reply)) return;
    const scan = scanOf(task, request.query.fresh === '1');
    await scan.firstBatch;
    if (scan.error) return reply.code(502).send({ error: scan.error });
    const offset = Math.max(0, Number(request.query.offset ?? 0) || 0);
    const limit = Math.min(200, Math.max(1, Number(request.query.limit ?? 50) || 50));
    const read = scan.read;
    const matching = request.query.code ? read.filter((letter) => letter.code === request.query.code) : read;
    return {
      task,
      scanning: !scan.done,
      scannedAt: scan.scannedAt,
      total: scan.total,
      read: read.length,
      codes: countCodes(read),
      matching: matching.length,
      offset,
      messages: matching.slice(offset, offset + limit),
    };
  });

  app.post<{
    Params: { task: string; action: string };
    Body: { messageIds?: string[]; code?: string; body?: string };
  }>('/api/dlq/:task/:action', async (request, reply) => {
    const { task, action } = request.params;
    if (!knownTask(task, reply)) return;
    if (action !== 'redrive' && action !== 'delete') return reply.code(404).send({ error: `no action ${action}` });
    if (!authorized(request, reply, `dlq ${action}`)) return;
    const body = request.body ?? {};
    const pick = {
      ...(Array.isArray(body.messageIds) ? { messageIds: body.messageIds.map(String).slice(0, 10_000) } : {}),
      ...(typeof body.code === 'string' ? { code: body.code } : {}),
    };
    if (!pick.messageIds && !pick.code) return reply.code(400).send({ error: 'give messageIds or a code' });
    if (body.body !== undefined) {
      // An edited body goes back only if it now passes the task's schema (the worker's rules).
      if (action !== 'redrive' || pick.messageIds?.length !== 1) {
        return reply.code(400).send({ error: 'an edited body redrives exactly one message' });
      }
      const parsed = parseTask(String(body.body), {
        registry,
        defaults: { id: '00000000-0000-4000-8000-000000000000' },
      });
      if (!parsed.ok) return reply.code(422).send({ error: parsed.error.message, violations: parsed.error.violations });
      if (parsed.envelope.task !== task)
        return reply.code(422).send({ error: `the body is a ${parsed.envelope.task} task` });
    }
    const result =
      action === 'redrive'
        ? await deadLetters.redrive(task, pick, body.body === undefined ? undefined : String(body.body))
        : await deadLetters.remove(task, pick);
    logger.info(
      { action: `dlq ${action}`, task, ...pick, edited: body.body !== undefined, ...result, from: request.ip },
      'console: write action',
    );
    scans.delete(task);
    return result;
  });

  app.post<{ Params: { task: string }; Body: { payload?: unknown; send?: boolean } }>(
    '/api/tasks/:task',
    async (request, reply) => {
      const { task } = request.params;
      if (!knownTask(task, reply)) return;
      const payload = request.body?.payload;
      const definition = registry.get(task);
      const parsed = parseTask(
        { task, version: definition?.latestVersion ?? 1, payload },
        { registry, defaults: { id: '00000000-0000-4000-8000-000000000000', createdAt: new Date().toISOString() } },
      );
      if (!parsed.ok) {
        return reply.code(422).send({ error: parsed.error.message, violations: parsed.error.violations });
      }
      if (!request.body?.send) return { valid: true };
      if (!authorized(request, reply, 'send')) return;
      const sent = await producerFor().send(task as never, payload as never);
      logger.info({ action: 'send', task, id: sent.id, route: sent.route, from: request.ip }, 'console: write action');
      return sent;
    },
  );

  app.get<{ Params: { id: string } }>('/api/tasks/:id', async (request) => {
    try {
      const found = await statusStore().reader.get(request.params.id);
      return found ? { tracked: true, status: found } : { tracked: true, status: undefined };
    } catch (error) {
      if (error instanceof StatusNotTrackedError) return { tracked: false, reason: error.message };
      throw error;
    }
  });

  app.get<{ Querystring: { uri?: string; download?: string } }>('/api/artifacts', async (request, reply) => {
    let location: ReturnType<typeof artifactsAllowed.check>;
    try {
      location = artifactsAllowed.check(String(request.query.uri ?? ''), 'artifact');
    } catch (error) {
      if (!isS3LocationError(error)) throw error;
      return reply.code(403).send({ error: error.message });
    }
    try {
      const object = await openS3Object(s3, location, { maxBytes: 512 * 1024 * 1024 });
      const name = location.key.split('/').pop() || 'artifact';
      reply.type(object.contentType ?? 'application/octet-stream');
      reply.header(
        'content-disposition',
        `${request.query.download === '1' ? 'attachment' : 'inline'}; filename="${name.replace(/["\\\r\n]/g, '_')}"`,
      );
      // Served files cannot run script in the console's origin.
      reply.header('content-security-policy', "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:");
      return reply.send(object.body);
    } catch (error) {
      if (classifyAwsError(error) === 'not-found')
        return reply.code(404).send({ error: `no such artifact ${request.query.uri}` });
      throw error;
    }
  });

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
    link: token && loopback ? `${url}#token=${token}` : url,
    readOnly,
    async close() {
      clearTimeout(timer);
      for (const listener of listeners) listeners.delete(listener);
      await app.close();
      await producer?.close();
      await status?.close();
      sqs.destroy();
      s3.destroy();
      cloudwatch?.destroy();
    },
  };
}
