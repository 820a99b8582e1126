import type { Logger } from 'pino';
import type { QueueReader, TaskQueueStats } from './queues.js';

/** One sample of the live view: what every open page is sent. */
export interface LiveSample {
  at: number;
  queues: TaskQueueStats[];
  rates: Record<string, { received?: number; done?: number }>;
  /** Per task with a known worker: whether its `/readyz` says ready (false: unreachable or not ready). */
  workers: Record<string, boolean>;
}

interface Counters {
  received: number;
  succeeded: number;
}

/**
 * Reads `tq_tasks_succeeded_total` and `tq_messages_received_total` of a worker's `/metrics`, and
 * its `/readyz` beside it.
 */
async function scrape(url: string): Promise<(Counters & { ready: boolean }) | undefined> {
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
 * The live view: one poll of the queues (and the workers' metrics) for every open page, every
 * `refreshMs` while a page listens, with throughput from the previous sample.
 */
export class LiveView {
  readonly #queues: QueueReader;
  readonly #tasks: readonly string[];
  readonly #metrics: Readonly<Record<string, string>>;
  readonly #refreshMs: number;
  readonly #logger: Logger;
  readonly #listeners = new Set<(data: string) => void>();
  #latest: LiveSample | undefined;
  #previous: { at: number; counters: Record<string, Counters> } | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: {
    queues: QueueReader;
    tasks: readonly string[];
    metrics: Readonly<Record<string, string>> | undefined;
    refreshMs: number;
    logger: Logger;
  }) {
    this.#queues = options.queues;
    this.#tasks = options.tasks;
    this.#metrics = options.metrics ?? {};
    this.#refreshMs = options.refreshMs;
    this.#logger = options.logger;
  }

  /** The latest sample, read anew when it is older than one refresh. */
  async current(): Promise<LiveSample | undefined> {
    if (!this.#latest || Date.now() - this.#latest.at > this.#refreshMs) await this.#sample();
    return this.#latest;
  }

  /** Sends every sample to `send` (the latest one at once) until the returned function is called. */
  listen(send: (data: string) => void): () => void {
    if (this.#latest) send(JSON.stringify(this.#latest));
    this.#listeners.add(send);
    if (!this.#timer) this.#loop();
    return () => this.#listeners.delete(send);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#listeners.clear();
  }

  async #sample(): Promise<void> {
    const at = Date.now();
    const stats = await this.#queues.overview(this.#tasks);
    const counters: Record<string, Counters> = {};
    const workers: Record<string, boolean> = {};
    await Promise.all(
      Object.entries(this.#metrics).map(async ([task, url]) => {
        const read = await scrape(url);
        workers[task] = read?.ready ?? false;
        if (read) counters[task] = read;
      }),
    );
    const rates: LiveSample['rates'] = {};
    const previous = this.#previous;
    for (const task of this.#tasks) {
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
    this.#previous = { at, counters };
    this.#latest = { at, queues: stats, rates, workers };
    const data = JSON.stringify(this.#latest);
    for (const listener of this.#listeners) listener(data);
  }

  #loop(): void {
    this.#timer = setTimeout(() => {
      void this.#sample()
        .catch((error: unknown) => this.#logger.warn({ err: error }, 'console: reading the queues failed'))
        .finally(() => {
          if (this.#listeners.size > 0) this.#loop();
          else this.#timer = undefined;
        });
    }, this.#refreshMs);
  }
}
