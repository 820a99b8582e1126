import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { type TaskName, toFlatMessage } from '@tq/contracts';
import {
  createWorker,
  type HandlerContext,
  NonRetryableError,
  RetryLaterError,
  type Worker,
  type WorkerOptions,
} from '@tq/worker';
import { Counter, type Registry } from 'prom-client';

/** How the relay hands a task to the endpoint. */
export type RelayMode = 'post' | 'query';
/** What it hands over: the envelope, or the seed article's flat form. */
export type RelayPayload = 'envelope' | 'flat';

/** Options of `createRelayWorker`. */
export interface RelayOptions<TTask extends TaskName> {
  task: TTask;
  /** The worker's URL (`RELAY_URL`). */
  url: string;
  /**
   * `post` (default): `POST <url>` with the task as `application/json` and the `X-Tq-*` and
   * `traceparent` headers. `query`: `GET <url>?message=<url-encoded JSON>`, the original design's
   * PHP worker (`$_GET['message']`).
   */
  mode?: RelayMode;
  /** Default: `envelope` for `post`, `flat` for `query`. */
  payload?: RelayPayload;
  /** Time for the endpoint's answer (headers and body), in seconds. Default 30. */
  timeoutSeconds?: number;
  /** Requests at once (the pool's connections and the worker's concurrency). Default 10. */
  concurrency?: number;
  /** The runtime's options (prefix, endpoint, logger, http, status...). */
  worker?: Omit<WorkerOptions<TTask>, 'task' | 'handler' | 'concurrency' | 'readiness'>;
}

/** What a relayed task's handler returns: the endpoint's answer. */
export interface RelayResult {
  status: number;
  /** The first 1 KiB of the answer's body, when it is text. */
  body?: string;
}

/** A relay worker: the worker, plus its connection pool to close after it. */
export interface RelayWorker<TTask extends TaskName> extends Worker<TTask> {
  /** Whether the endpoint accepted the last connection (what `/readyz` adds). */
  readonly reachable: boolean;
}

/** The part of an answer body kept for a reason or a result. */
export const MAX_REASON_BYTES = 1024;
/** How often an unreachable endpoint is tried again (a TCP connect) while no task goes to it. */
const PROBE_MS = 1000;

/** Status class label of `tq_relay_responses_total`. */
type ResponseClass = '2xx' | '3xx' | '4xx' | '5xx' | 'refused' | 'timeout' | 'error';

/**
 * `Retry-After` as seconds: delta-seconds, or an HTTP date from now (RFC 9110 §10.2.3); undefined
 * when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim());
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * Reads an answer's body: keeps its first `keep` bytes and, once it has them, destroys the rest
 * unread when `cut` (a long body is never buffered), else reads on to the end so the connection
 * goes back to the pool. Events, not an async iterator: this runs once per task.
 */
function readBody(body: IncomingMessage, keep: number, cut: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = () => resolve(size === 0 ? '' : Buffer.concat(chunks).subarray(0, keep).toString('utf8'));
    body.on('data', (chunk: Buffer) => {
      // Past what is kept (or keeping nothing): read on to the end for the connection's sake.
      if (size >= keep) return;
      chunks.push(chunk);
      size += chunk.length;
      if (size > keep && cut) {
        body.destroy();
        finish();
      }
    });
    body.once('end', finish);
    body.once('error', reject);
  });
}

/** At most `limit` bytes of a body as text; the rest is dropped (never buffered). */
const readReason = (body: IncomingMessage, limit = MAX_REASON_BYTES) => readBody(body, limit, true);

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** No connection within the connect timeout: counted as refused (the endpoint is not there). */
const CONNECT_TIMEOUT = 'TQ_RELAY_CONNECT_TIMEOUT';
/** The connection went quiet for the whole timeout, waiting for the answer's headers or its next chunk. */
const ANSWER_TIMEOUT = 'TQ_RELAY_TIMEOUT';

/** What an aborted request's error carries: node's `AbortError` shape, the signal's reason as its cause. */
function abortCause(signal: AbortSignal): { name: string; code: string; cause: unknown } {
  return { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason };
}

/** An error with a `code`, as node's own network errors have. */
function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * One request on a keep-alive agent; `answer` resolves once the answer's headers are in. No
 * answer within `timeoutMs` of quiet on the connection (waiting for headers, and later between
 * body chunks) destroys the request with `TQ_RELAY_TIMEOUT`; no connection within `connectMs`,
 * with `TQ_RELAY_CONNECT_TIMEOUT`.
 */
function exchange(
  send: typeof httpRequest,
  options: RequestOptions,
  body: string | undefined,
  timeoutMs: number,
  connectMs: number,
): { request: ClientRequest; answer: Promise<IncomingMessage> } {
  let request: ClientRequest | undefined;
  const answer = new Promise<IncomingMessage>((resolve, reject) => {
    request = send({ ...options, timeout: timeoutMs }, resolve);
    const sent = request;
    sent.once('error', reject);
    sent.once('timeout', () => {
      sent.destroy(codedError(ANSWER_TIMEOUT, `no answer for ${timeoutMs / 1000} s`));
    });
    if (connectMs < timeoutMs) {
      sent.once('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => {
          sent.destroy(codedError(CONNECT_TIMEOUT, `no connection within ${connectMs / 1000} s`));
        }, connectMs);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
    }
    sent.end(body);
  });
  return { request: request as ClientRequest, answer };
}

/**
 * Whether the endpoint takes connections. After a refused connection it is unreachable (the
 * worker is not ready and takes no new messages) until a probe connects, every `PROBE_MS`, or an
 * answer comes.
 */
class Reachability {
  reachable = true;
  readonly #host: string;
  readonly #port: number;
  #probing: NodeJS.Timeout | undefined;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  /** A connection was refused: not ready until a probe connects. */
  lost(): void {
    this.reachable = false;
    this.#schedule();
  }

  /** The endpoint answered. */
  answered(): void {
    this.reachable = true;
  }

  close(): void {
    if (this.#probing) clearTimeout(this.#probing);
  }

  #schedule(): void {
    if (this.#probing) return;
    this.#probing = setTimeout(() => this.#probe(), PROBE_MS);
    this.#probing.unref();
  }

  #probe(): void {
    const socket = connect({ host: this.#host, port: this.#port });
    socket.once('connect', () => {
      socket.destroy();
      this.reachable = true;
      this.#probing = undefined;
    });
    socket.once('error', () => {
      socket.destroy();
      this.#probing = undefined;
      this.#schedule();
    });
  }
}

/** The `tq_relay_responses_total` counter of a worker's registry, its label sets bound once. */
function responseCounter(registry: Registry, task: string): (kind: ResponseClass) => void {
  const responses = (registry.getSingleMetric('tq_relay_responses_total') ??
    new Counter({
      name: 'tq_relay_responses_total',
      help: 'Answers of the relayed endpoint by status class (refused, timeout and error: no answer)',
      labelNames: ['task', 'class'],
      registers: [registry],
    })) as Counter<'task' | 'class'>;
  // Bound once: a labelled inc() per answer would hash the label set every time.
  const classes = new Map<ResponseClass, { inc(): void }>();
  const count = (kind: ResponseClass) => {
    let counter = classes.get(kind);
    if (!counter) {
      counter = responses.labels({ task: task, class: kind });
      classes.set(kind, counter);
    }
    counter.inc();
  };
  return count;
}

/** Waits for the answer and turns it into the task's result or error (the table below). */
async function settle(
  answered: Promise<IncomingMessage>,
  on: { url: string; timeoutMs: number; count: (kind: ResponseClass) => void; reachability: Reachability },
): Promise<RelayResult> {
  const { url, timeoutMs, count, reachability } = on;
  let answer: IncomingMessage;
  try {
    answer = await answered;
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (CONNECT_ERRORS.has(code) || code === CONNECT_TIMEOUT) {
      count('refused');
      reachability.lost();
      throw new Error(`${url} refused the connection (${code}): retrying`, { cause: error });
    }
    if (code === ANSWER_TIMEOUT) {
      count('timeout');
      throw new Error(`${url} did not answer within ${timeoutMs / 1000} s (${code})`, { cause: error });
    }
    count('error');
    throw error;
  }
  reachability.answered();
  const status = answer.statusCode ?? 0;
  if (status >= 200 && status < 300) {
    count('2xx');
    const type = String(answer.headers['content-type'] ?? '');
    if (!/^text\/|json/.test(type)) {
      // Read to the end unkept, so the connection goes back to the pool.
      await readBody(answer, 0, false);
      return { status };
    }
    // The first 1 KiB of a text answer is the result; a longer one is not read further.
    return { status, body: await readReason(answer) };
  }
  const reason = await readReason(answer).catch(() => '');
  if (status >= 500 || status === 429) {
    count(status === 429 ? '4xx' : '5xx');
    const after = status === 429 || status === 503 ? parseRetryAfter(answer.headers['retry-after']) : undefined;
    const text = `HTTP ${status} from ${url}${reason ? `: ${reason}` : ''}`;
    if (after !== undefined) throw new RetryLaterError(after, `${text} (Retry-After ${after} s)`);
    throw new Error(text);
  }
  count(status >= 400 ? '4xx' : '3xx');
  throw new NonRetryableError(reason || `HTTP ${status} from ${url}`, { code: `HTTP_${status}` });
}

/**
 * A worker that delivers each task to an HTTP endpoint and settles its message by the answer:
 *
 * | answer | settlement |
 * | --- | --- |
 * | 2xx | deleted |
 * | 429 or 503 with `Retry-After` | retried after exactly that (within SQS's 12 h) |
 * | 429 or 503 without it, other 5xx, refused connection, timeout | retried with the runtime's backoff |
 * | other 4xx, 3xx | dead-lettered at once: code `HTTP_<status>`, reason the first 1 KiB of the body |
 *
 * Connections are kept alive, `concurrency` of them at most (node's `http`/`https` agent: on a
 * busy worker it answers sooner than undici 6's pool, which waits for a turn of the event loop
 * before it reuses an idle connection). While the endpoint refuses connections the worker
 * is not ready (`/readyz`) and takes no new messages, so a stopped endpoint costs no task its
 * attempts; a slow one keeps its messages invisible through the runtime's heartbeats.
 */
export function createRelayWorker<TTask extends TaskName>(options: RelayOptions<TTask>): RelayWorker<TTask> {
  const target = new URL(options.url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new Error(`RELAY_URL is "${options.url}", must be an http(s) URL`);
  }
  const mode = options.mode ?? 'post';
  const form = options.payload ?? (mode === 'query' ? 'flat' : 'envelope');
  const timeoutMs = (options.timeoutSeconds ?? 30) * 1000;
  const concurrency = options.concurrency ?? 10;
  const secure = target.protocol === 'https:';
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: concurrency })
    : new HttpAgent({ keepAlive: true, maxSockets: concurrency });
  const send = secure ? httpsRequest : httpRequest;
  const connectMs = Math.min(timeoutMs, 10_000);

  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  // An IPv6 literal without its URL brackets, as sockets take it.
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const reachability = new Reachability(host, port);

  const base = options.worker ?? {};
  const worker = createWorker<TTask>({
    ...base,
    task: options.task,
    concurrency,
    // The endpoint's own timeout ends a slow answer first, with a clear message.
    handlerTimeoutMs: base.handlerTimeoutMs ?? timeoutMs + 5000,
    readiness: () => reachability.reachable,
    handler: async (_payload, context) => relay(context),
  });
  const count = responseCounter(worker.metrics.registry, options.task);

  async function relay(context: HandlerContext<TTask>): Promise<RelayResult> {
    const envelope = context.envelope;
    const message = JSON.stringify(form === 'flat' ? toFlatMessage(envelope) : envelope);
    const headers: Record<string, string> = {
      'x-tq-task': options.task,
      'x-tq-task-id': context.id,
      'x-tq-attempt': String(context.attempt),
      'x-tq-version': String(context.version),
    };
    if (context.traceparent) headers.traceparent = context.traceparent;
    let path = `${target.pathname}${target.search}`;
    if (mode === 'query') {
      path += `${target.search ? '&' : '?'}message=${encodeURIComponent(message)}`;
    } else {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(message));
    }
    const signal = context.signal;
    signal.throwIfAborted();
    const { request, answer: answered } = exchange(
      send,
      {
        agent,
        protocol: target.protocol,
        hostname: host,
        port,
        path,
        method: mode === 'query' ? 'GET' : 'POST',
        headers,
      },
      mode === 'post' ? message : undefined,
      timeoutMs,
      connectMs,
    );
    // One listener for the request and the reading of its answer: an abort (the handler's
    // timeout, a shutdown past its grace) ends the request where it is.
    const abort = () => request.destroy(Object.assign(new Error('the request was aborted'), abortCause(signal)));
    signal.addEventListener('abort', abort);
    try {
      return await settle(answered, { url: options.url, timeoutMs, count, reachability });
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  worker.once('stopped', () => {
    reachability.close();
    agent.destroy();
  });
  return Object.defineProperty(worker, 'reachable', { get: () => reachability.reachable }) as RelayWorker<TTask>;
}
