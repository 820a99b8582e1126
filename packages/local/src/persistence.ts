import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Durable state for the local endpoint. fauxqs 1.9 keeps everything in memory (its 2.x persists,
 * but needs Node 22), so this module saves its stores to a folder and loads them back on start:
 *
 * - `<dir>/state.json`: queues (attributes, tags, every message with its id, receive count, sent
 *   time, delay, FIFO group and sequence number), topics, subscriptions, buckets and each object's
 *   metadata; written to a temporary file and renamed, so a crash leaves the previous snapshot;
 * - `<dir>/objects/<sha256>`: object bodies, by content (written once, removed when unreferenced).
 *
 * A snapshot is taken shortly after every request that can change state (at most
 * `SAVE_DELAY_MS` after it, and at least every `SAVE_MAX_WAIT_MS` under constant traffic) and
 * when the endpoint stops. Killed without a stop, the endpoint loses at most those last moments.
 * On load, messages that were in flight become visible again (their receipt handles died with
 * the process, as their consumers did); receive counts carry over, so redrive policies hold.
 * The FIFO deduplication window (5 minutes) starts over.
 *
 * The stores are fauxqs internals (version pinned; `FAUXQS_VERSION` is checked on load).
 */
export const FAUXQS_VERSION = '1.9.2';
const FORMAT = 1;
export const SAVE_DELAY_MS = 200;
export const SAVE_MAX_WAIT_MS = 1000;

interface Message {
  messageId: string;
  body: string;
  md5OfBody: string;
  messageAttributes: Record<string, unknown>;
  md5OfMessageAttributes: string;
  sentTimestamp: number;
  approximateReceiveCount: number;
  approximateFirstReceiveTimestamp?: number;
  delayUntil?: number;
  messageGroupId?: string;
  messageDeduplicationId?: string;
  sequenceNumber?: string;
}

interface Queue {
  name: string;
  arn: string;
  createdTimestamp: number;
  lastModifiedTimestamp: number;
  attributes: Record<string, string>;
  tags: Map<string, string>;
  sequenceCounter: number;
  enqueue(message: Message): void;
  inspectMessages(): { ready: Message[]; delayed: Message[]; inflight: { message: Message }[] };
}

interface SqsStore {
  host: string;
  region?: string;
  listQueues(): Queue[];
  buildQueueUrl(name: string, port: string, requestHost: string, region: string): string;
  createQueue(name: string, url: string, arn: string, attributes: Record<string, string>): Queue;
}

interface Topic {
  arn: string;
  name: string;
  attributes: Record<string, string>;
  tags: Map<string, string>;
  subscriptionArns: string[];
}

interface Subscription {
  arn: string;
  topicArn: string;
  protocol: string;
  endpoint: string;
  confirmed: boolean;
  attributes: Record<string, string>;
}

interface SnsStore {
  topics: Map<string, Topic>;
  subscriptions: Map<string, Subscription>;
}

interface StoredObject {
  key: string;
  body: Buffer;
  contentType: string;
  contentLength: number;
  etag: string;
  lastModified: Date;
  metadata: Record<string, string>;
}

interface S3Store {
  buckets: Map<string, Map<string, StoredObject>>;
  bucketCreationDates: Map<string, Date>;
}

/** The three stores of one endpoint, as `buildApp({ stores })` takes them. */
export interface FauxqsStores {
  sqsStore: SqsStore;
  snsStore: SnsStore;
  s3Store: S3Store;
}

interface Snapshot {
  format: number;
  fauxqs: string;
  savedAt: string;
  queues: (Omit<Queue, 'tags' | 'enqueue' | 'inspectMessages'> & {
    tags: Record<string, string>;
    messages: Message[];
  })[];
  topics: (Omit<Topic, 'tags'> & { tags: Record<string, string> })[];
  subscriptions: Subscription[];
  buckets: {
    name: string;
    createdAt: string;
    objects: (Omit<StoredObject, 'body' | 'lastModified'> & { lastModified: string; sha256: string })[];
  }[];
}

/** fauxqs's `dist/` folder: its package exports only the app, so the store classes are found by path. */
function fauxqsDist(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'node_modules', 'fauxqs');
    if (existsSync(join(candidate, 'package.json'))) {
      const root = realpathSync(candidate);
      const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
      if (version !== FAUXQS_VERSION) {
        throw new Error(`persistent local state is written for fauxqs ${FAUXQS_VERSION}; found ${version}`);
      }
      return join(root, 'dist');
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('fauxqs is not installed next to @tq/local');
    dir = parent;
  }
}

/** New, empty fauxqs stores. */
export async function createStores(): Promise<FauxqsStores> {
  const dist = fauxqsDist();
  const load = async <T>(path: string, name: string) =>
    ((await import(pathToFileURL(join(dist, path)).href)) as Record<string, new () => T>)[name] as new () => T;
  const [Sqs, Sns, S3] = await Promise.all([
    load<SqsStore>('sqs/sqsStore.js', 'SqsStore'),
    load<SnsStore>('sns/snsStore.js', 'SnsStore'),
    load<S3Store>('s3/s3Store.js', 'S3Store'),
  ]);
  return { sqsStore: new Sqs(), snsStore: new Sns(), s3Store: new S3() };
}

/** The order messages go back in: FIFO by sequence number, standard by sent time. */
function messageOrder(a: Message, b: Message): number {
  if (a.sequenceNumber !== undefined && b.sequenceNumber !== undefined) {
    return BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1;
  }
  return a.sentTimestamp - b.sentTimestamp;
}

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/** Saves and loads one endpoint's stores under a folder. */
export class StateDirectory {
  readonly dir: string;
  readonly #objects: string;
  /** Bodies known to be on disk, by hash (so unchanged objects are not written again). */
  readonly #written = new Set<string>();
  #saving: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.dir = dir;
    this.#objects = join(dir, 'objects');
  }

  get #stateFile(): string {
    return join(this.dir, 'state.json');
  }

  /** Deletes everything saved. */
  async reset(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    this.#written.clear();
  }

  /**
   * Reads the saved state, if any, with every object body. Throws naming the file when it cannot
   * be used (written by another format or fauxqs version, or damaged): nothing is guessed.
   */
  async read(): Promise<{ snapshot: Snapshot; bodies: Map<string, Buffer> } | undefined> {
    if (!existsSync(this.#stateFile)) return undefined;
    let snapshot: Snapshot;
    try {
      snapshot = JSON.parse(await readFile(this.#stateFile, 'utf8')) as Snapshot;
    } catch (error) {
      throw new Error(`${this.#stateFile} cannot be read (${(error as Error).message}): move it away or reset`);
    }
    if (snapshot.format !== FORMAT || snapshot.fauxqs !== FAUXQS_VERSION) {
      throw new Error(
        `${this.#stateFile} was written by another version (format ${snapshot.format}, fauxqs ${snapshot.fauxqs}): move it away or reset`,
      );
    }
    const bodies = new Map<string, Buffer>();
    for (const bucket of snapshot.buckets) {
      for (const object of bucket.objects) {
        if (bodies.has(object.sha256)) continue;
        const body = await readFile(join(this.#objects, object.sha256)).catch(() => {
          throw new Error(`the body of s3://${bucket.name}/${object.key} is missing from ${this.#objects}`);
        });
        bodies.set(object.sha256, body);
        this.#written.add(object.sha256);
      }
    }
    return { snapshot, bodies };
  }

  /**
   * Puts saved state into empty stores, with queue URLs for `port` (the port may differ from the
   * last run's). Synchronous, so it can run between `listen()` and the first request.
   */
  restore(stores: FauxqsStores, saved: { snapshot: Snapshot; bodies: Map<string, Buffer> }, port: number): void {
    const { sqsStore, snsStore, s3Store } = stores;
    const { snapshot, bodies } = saved;
    for (const saved of snapshot.queues) {
      const region = saved.arn.split(':')[3] ?? sqsStore.region ?? 'us-east-1';
      const url = sqsStore.buildQueueUrl(saved.name, String(port), `127.0.0.1:${port}`, region);
      const queue = sqsStore.createQueue(saved.name, url, saved.arn, saved.attributes);
      queue.tags = new Map(Object.entries(saved.tags));
      queue.createdTimestamp = saved.createdTimestamp;
      queue.lastModifiedTimestamp = saved.lastModifiedTimestamp;
      queue.sequenceCounter = saved.sequenceCounter;
      for (const message of [...saved.messages].sort(messageOrder)) queue.enqueue(message);
    }
    for (const topic of snapshot.topics) {
      snsStore.topics.set(topic.arn, { ...topic, tags: new Map(Object.entries(topic.tags)) });
    }
    for (const subscription of snapshot.subscriptions) snsStore.subscriptions.set(subscription.arn, subscription);
    for (const bucket of snapshot.buckets) {
      const objects = new Map<string, StoredObject>();
      for (const { sha256: hash, lastModified, ...object } of bucket.objects) {
        const body = bodies.get(hash) as Buffer;
        objects.set(object.key, { ...object, body, lastModified: new Date(lastModified) });
      }
      s3Store.buckets.set(bucket.name, objects);
      s3Store.bucketCreationDates.set(bucket.name, new Date(bucket.createdAt));
    }
  }

  /** Writes the stores' current state; saves never overlap, and each sees the state at its start. */
  save(stores: FauxqsStores): Promise<void> {
    const next = this.#saving.then(() => this.#write(stores));
    this.#saving = next.catch(() => undefined);
    return next;
  }

  async #write({ sqsStore, snsStore, s3Store }: FauxqsStores): Promise<void> {
    // Captured synchronously: one consistent moment of every store.
    const queues = sqsStore.listQueues().map((queue) => {
      const { ready, delayed, inflight } = queue.inspectMessages();
      return {
        name: queue.name,
        arn: queue.arn,
        createdTimestamp: queue.createdTimestamp,
        lastModifiedTimestamp: queue.lastModifiedTimestamp,
        attributes: { ...queue.attributes },
        tags: Object.fromEntries(queue.tags),
        sequenceCounter: queue.sequenceCounter,
        messages: [...inflight.map((entry) => entry.message), ...ready, ...delayed].map((message) => ({ ...message })),
      };
    });
    const topics = [...snsStore.topics.values()].map((topic) => ({
      ...topic,
      subscriptionArns: [...topic.subscriptionArns],
      tags: Object.fromEntries(topic.tags),
    }));
    const subscriptions = [...snsStore.subscriptions.values()].map((subscription) => ({ ...subscription }));
    const bodies = new Map<string, Buffer>();
    const buckets = [...s3Store.buckets].map(([name, objects]) => ({
      name,
      createdAt: (s3Store.bucketCreationDates.get(name) ?? new Date()).toISOString(),
      objects: [...objects.values()].map(({ body, lastModified, ...object }) => {
        const hash = sha256(body);
        bodies.set(hash, body);
        return { ...object, lastModified: lastModified.toISOString(), sha256: hash };
      }),
    }));
    const snapshot: Snapshot = {
      format: FORMAT,
      fauxqs: FAUXQS_VERSION,
      savedAt: new Date().toISOString(),
      queues,
      topics,
      subscriptions,
      buckets,
    };

    await mkdir(this.#objects, { recursive: true });
    for (const [hash, body] of bodies) {
      if (this.#written.has(hash)) continue;
      const temporary = join(this.#objects, `${hash}.tmp`);
      await writeFile(temporary, body);
      await rename(temporary, join(this.#objects, hash));
      this.#written.add(hash);
    }
    const temporary = `${this.#stateFile}.tmp`;
    await writeFile(temporary, JSON.stringify(snapshot));
    await rename(temporary, this.#stateFile);
    // Bodies no snapshot refers to any more (deleted or overwritten objects).
    for (const name of await readdir(this.#objects)) {
      if (!bodies.has(name)) {
        await rm(join(this.#objects, name), { force: true });
        this.#written.delete(name);
      }
    }
  }
}

/**
 * Calls `save` shortly after changes: `SAVE_DELAY_MS` after the last one, and at least every
 * `SAVE_MAX_WAIT_MS` while they keep coming. `flush()` saves now if anything is pending; `close()`
 * cancels what is pending and waits for a save already running, after which it never saves again.
 */
export function debouncedSaver(save: () => Promise<void>, onError: (error: unknown) => void) {
  let timer: NodeJS.Timeout | undefined;
  let firstPendingAt = 0;
  let closed = false;
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    timer = undefined;
    firstPendingAt = 0;
    running = running.then(save).catch(onError);
    return running;
  };
  return {
    changed(): void {
      if (closed) return;
      const now = Date.now();
      if (firstPendingAt === 0) firstPendingAt = now;
      if (timer) clearTimeout(timer);
      const wait = Math.max(0, Math.min(SAVE_DELAY_MS, firstPendingAt + SAVE_MAX_WAIT_MS - now));
      timer = setTimeout(run, wait);
      timer.unref();
    },
    async flush(): Promise<void> {
      if (timer) {
        clearTimeout(timer);
        await run();
      } else {
        await running;
      }
    },
    async close(): Promise<void> {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
