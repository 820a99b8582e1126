import { type AttributeValue, BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AWS_LIMITS, retryBatch } from '@tq/aws';
import { findArtifacts, type RecentEntry, recentKey, timelineSteps } from './steps.js';
import {
  DEFAULT_TTL_SECONDS,
  FINAL_STATES,
  MAX_MESSAGE_CHARS,
  MAX_RESULT_BYTES,
  type TaskEvent,
  type TaskState,
} from './types.js';

/** What a step may carry besides its event. */
export interface StepDetails {
  /** The handler's result (`succeeded`): stored when small, its `s3://` URIs always. */
  result?: unknown;
  /** The failure (`retrying`, `dead-lettered`). */
  error?: { code?: string; message: string };
  /** `s3://` URIs that are the task's inputs (from its payload): not listed as its artifacts. */
  inputs?: readonly string[];
}

/** Options of a `StatusWriter`. */
export interface StatusWriterOptions {
  dynamodb: DynamoDBClient;
  tableName: string;
  /** How long items live (DynamoDB TTL). Default 14 days. */
  ttlSeconds?: number;
  /** Steps of one task arriving within this window go in one item. Default 100 ms. */
  coalesceMs?: number;
  /** `BatchWriteItem` calls in flight at once. Default 8. */
  concurrency?: number;
  /** Tasks waiting to be written; steps beyond are dropped (counted). Default 100,000 (tens of MB at most). */
  maxPending?: number;
  /**
   * Told when writes start failing (once per outage, with the error) and when they work again.
   * Writes never throw to the caller: an unreachable store means "status unknown".
   */
  onOutage?: (event: { kind: 'down'; error: unknown } | { kind: 'recovered'; failed: number }) => void;
}

/** Counters of a `StatusWriter`. */
export interface StatusWriterStats {
  /** Items written (one per task and burst of its steps). */
  written: number;
  /** Items that could not be written (store unreachable, throttled past the retries, missing table). */
  failed: number;
  /** Steps dropped because `maxPending` tasks were waiting. */
  dropped: number;
}

interface Pending {
  task: string;
  /** When its first step was buffered (`performance.now()`): it is written `coalesceMs` after at the latest. */
  since: number;
  /**
   * Its last step ends the attempt (`succeeded`, `dead-lettered`, `retrying`): no step of this
   * delivery is to come, so it may fill a batch before its window ends.
   */
  settled: boolean;
  events: TaskEvent[];
  details: StepDetails;
  /** Told when the item holding these steps is written or given up on (see `record`). */
  onWritten: WrittenCallback<never> | undefined;
  token: unknown;
}

/**
 * Hears whether the item holding a step reached the table (`true`) or was given up on (`false`:
 * store unreachable past the retries, table missing, or the step dropped at `maxPending`), with
 * the token given to `record`. Called once, never throws into the writer.
 */
export type WrittenCallback<TToken> = (written: boolean, token: TToken) => void;

/** DynamoDB's limit of items per `BatchWriteItem`. */
const BATCH_SIZE = AWS_LIMITS.dynamodb.maxBatchWriteItems;

/** Waits between attempts of one `BatchWriteItem` (`@tq/aws`'s one formula). */
const WRITE_BACKOFF = { baseMs: 100, capMs: 2_000 } as const;

/** The steps after which a delivery records nothing more (its next step, if any, is a new attempt). */
const SETTLING_STATES: readonly TaskState[] = [...FINAL_STATES, 'retrying'];

/** How many of a call's items are tasks' items (not index items). */
function taskItems(requests: readonly { PutRequest: { Item: Record<string, AttributeValue> } }[]): number {
  let count = 0;
  for (const request of requests) if (!request.PutRequest.Item.id?.S?.startsWith('#')) count += 1;
  return count;
}

const NONE: ReadonlySet<string> = new Set();

/** The task ids of the items a call left unwritten. */
function unwrittenIds(requests: readonly { PutRequest: { Item: Record<string, AttributeValue> } }[]): Set<string> {
  const ids = new Set<string>();
  for (const request of requests) {
    const id = request.PutRequest.Item.id?.S;
    if (id !== undefined && !id.startsWith('#')) ids.add(id);
  }
  return ids;
}

/** Adds a waiter to a buffered task: a second one (two final steps in one window) chains after the first. */
function addWaiter<TToken>(pending: Pending, onWritten: WrittenCallback<TToken>, token: TToken): void {
  const first = pending.onWritten as WrittenCallback<unknown> | undefined;
  if (first === undefined) {
    pending.onWritten = onWritten as WrittenCallback<never>;
    pending.token = token;
    return;
  }
  const firstToken = pending.token;
  pending.onWritten = ((written: boolean) => {
    first(written, firstToken);
    onWritten(written, token);
  }) as WrittenCallback<never>;
  pending.token = undefined;
}

const cut = (text: string) => (text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…` : text);

/**
 * Records task steps in the status table, off the caller's path: `record()` only buffers. Steps
 * of one task that arrive close together (received, running, succeeded of a quick handler) become
 * one item, and items go 25 to a `BatchWriteItem`: a busy worker makes one call per 25 tasks, not
 * one per step. Items are only ever added (key: task id + step), never updated, so nothing a late
 * or duplicate delivery writes can replace what an earlier one wrote: the reader derives the
 * state, and the first final step wins. Failures are counted and reported once per outage, never
 * thrown.
 */
export class StatusWriter {
  readonly #options: Required<Omit<StatusWriterOptions, 'onOutage'>> & Pick<StatusWriterOptions, 'onOutage'>;
  readonly #pending = new Map<string, Pending>();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #down = false;
  #failedInOutage = 0;
  #sequence = 0;
  /** Buffered tasks whose last step settled their attempt (`Pending.settled`). */
  #settled = 0;
  /** Tells this writer's items from another's that buffered the same task at the same millisecond. */
  readonly #writerId = Math.random().toString(36).slice(2, 8);
  readonly stats: StatusWriterStats = { written: 0, failed: 0, dropped: 0 };

  constructor(options: StatusWriterOptions) {
    this.#options = {
      ttlSeconds: DEFAULT_TTL_SECONDS,
      coalesceMs: 100,
      concurrency: 8,
      maxPending: 100_000,
      ...options,
    };
  }

  /** Tasks buffered, not yet in a call. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Buffers one step of a task. It is written within `coalesceMs`, sooner when its attempt has
   * settled and enough settled tasks wait to fill a `BatchWriteItem`. With `onWritten`, the caller
   * hears (with `token`, so one function serves every task) when that write has landed or was
   * given up on: a worker deletes a message only after its final step is durable.
   */
  record<TToken>(
    id: string,
    task: string,
    event: TaskEvent,
    details: StepDetails = {},
    onWritten?: WrittenCallback<TToken>,
    token?: TToken,
  ): void {
    let pending = this.#pending.get(id);
    if (!pending) {
      if (this.#pending.size >= this.#options.maxPending) {
        this.stats.dropped += 1;
        onWritten?.(false, token as TToken);
        return;
      }
      pending = {
        task,
        since: performance.now(),
        settled: false,
        events: [],
        details: {},
        onWritten: undefined,
        token: undefined,
      };
      this.#pending.set(id, pending);
    }
    if (onWritten !== undefined) addWaiter(pending, onWritten, token as TToken);
    const step = event.durationMs === undefined ? event : { ...event, durationMs: Math.round(event.durationMs) };
    pending.events.push(step.message === undefined ? step : { ...step, message: cut(step.message) });
    const settled = SETTLING_STATES.includes(step.state);
    if (settled !== pending.settled) {
      pending.settled = settled;
      this.#settled += settled ? 1 : -1;
    }
    if (details.result !== undefined) pending.details.result = details.result;
    if (details.inputs !== undefined) pending.details.inputs = details.inputs;
    if (details.error !== undefined) pending.details.error = { ...details.error, message: cut(details.error.message) };
    // A full call's worth of settled tasks goes now if a call slot is free (else when one frees).
    if (settled && this.#settled >= BATCH_SIZE - 1 && this.#inFlight.size < this.#options.concurrency) {
      this.#drain(false);
    }
    this.#wake(this.#options.coalesceMs);
  }

  /** Drains in `ms` unless a drain is already due. */
  #wake(ms: number): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#drain(false);
    }, ms);
  }

  /** Writes everything buffered now and waits for it (and for writes in flight). */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#pending.size > 0 || this.#inFlight.size > 0) {
      this.#drain(true);
      await Promise.race(this.#inFlight);
    }
  }

  /**
   * Starts calls while call slots are free, oldest tasks first: a call for the tasks whose window
   * is over (all of them with `all`), topped up with settled tasks; or, before any window is over,
   * a full call of settled tasks. A busy worker's tasks settle within their window (received,
   * running, succeeded in a few milliseconds), so its calls leave full, 24 tasks and an index
   * item, instead of with the few whose windows happened to end since the last call. A write
   * that ends drains at once, so under load `concurrency` calls stay busy (a timer between
   * rounds capped the writer at `concurrency × 25` items per window, 2,000 a second).
   */
  #drain(all: boolean): void {
    const ripe = performance.now() - this.#options.coalesceMs;
    while (this.#pending.size > 0 && this.#inFlight.size < this.#options.concurrency) {
      // The map keeps the order tasks were first buffered in: the first is the oldest.
      const due = all || (this.#pending.values().next().value as Pending).since <= ripe;
      // Not a full call of settled tasks yet (a call holds 24 tasks of one type and its index item).
      if (!due && this.#settled < BATCH_SIZE - 1) break;
      const batch: [string, Pending][] = [];
      // Each task type with a finished task in the batch adds its index item to the call.
      const indexed = new Set<string>();
      let full = false;
      for (const entry of this.#pending) {
        const [, pending] = entry;
        if (!all && !pending.settled && pending.since > ripe) continue;
        const final = FINAL_STATES.includes((pending.events.at(-1) as TaskEvent).state);
        const adds = final && !indexed.has(pending.task) ? 2 : 1;
        if (batch.length + indexed.size + adds > BATCH_SIZE) {
          full = true;
          break;
        }
        if (final) indexed.add(pending.task);
        batch.push(entry);
      }
      if (batch.length === 0 || (!due && !full && batch.length + indexed.size < BATCH_SIZE)) break;
      for (const [id, pending] of batch) {
        this.#pending.delete(id);
        if (pending.settled) this.#settled -= 1;
      }
      const write = this.#write(batch).finally(() => {
        this.#inFlight.delete(write);
        this.#drain(false);
      });
      this.#inFlight.add(write);
    }
    // What is left waits for the oldest one's window (or for a call slot: a write's end drains).
    const oldest = this.#pending.values().next().value as Pending | undefined;
    if (oldest && this.#inFlight.size < this.#options.concurrency) {
      this.#wake(Math.max(0, oldest.since + this.#options.coalesceMs - performance.now()));
    }
  }

  /** Writes a batch, then tells each task's waiter whether its item landed. */
  async #write(batch: [string, Pending][]): Promise<void> {
    const unwritten = await this.#put(batch);
    for (const [id, pending] of batch) {
      if (pending.onWritten !== undefined) {
        pending.onWritten(!unwritten.has(id), pending.token as never);
      }
    }
  }

  /** Puts a batch's items; resolves with the ids of the tasks whose item is not in the table. */
  async #put(batch: [string, Pending][]): Promise<ReadonlySet<string>> {
    const now = Date.now();
    const requests = batch.map(([id, pending]) => ({ PutRequest: { Item: this.#item(id, pending, now) } }));
    for (const item of this.#indexItems(batch, now)) requests.push({ PutRequest: { Item: item } });
    // Unprocessed items (throttling) are tried again, up to 4 times in all, with growing waits.
    let unwritten: ReadonlySet<string> = NONE;
    await retryBatch(requests, {
      attempts: 4,
      backoff: WRITE_BACKOFF,
      call: async (pending) => {
        const out = await this.#options.dynamodb.send(
          new BatchWriteItemCommand({ RequestItems: { [this.#options.tableName]: [...pending] } }),
        );
        const left = (out.UnprocessedItems?.[this.#options.tableName] ?? []) as typeof requests;
        this.stats.written += taskItems(pending) - taskItems(left);
        if (left.length === 0) return { retry: left };
        return { retry: left, error: new Error(`${left.length} status item(s) left unprocessed (throttled)`) };
      },
      giveUp: (left, error) => {
        this.#failed(taskItems(left), error);
        unwritten = unwrittenIds(left);
      },
    });
    if (unwritten !== NONE) return unwritten;
    if (this.#down) {
      this.#down = false;
      this.#options.onOutage?.({ kind: 'recovered', failed: this.#failedInOutage });
      this.#failedInOutage = 0;
    }
    return NONE;
  }

  #failed(count: number, error: unknown): void {
    this.stats.failed += count;
    this.#failedInOutage += count;
    if (!this.#down) {
      this.#down = true;
      this.#options.onOutage?.({ kind: 'down', error });
    }
  }

  /**
   * A task type's index items: one per task type with finished tasks in the batch, listing them
   * (id, state, when), keyed `#recent#<task>` and sorted by the newest of them, so the most
   * recently finished tasks of a type are one `Query` away. They replace a global secondary
   * index on the task type, which would cost a second write for every item (and throttle the
   * table once one busy task type passed a partition's 1,000 writes a second); these cost one
   * write per batch of up to 24 tasks.
   */
  #indexItems(batch: [string, Pending][], now: number): Record<string, AttributeValue>[] {
    const byTask = new Map<string, RecentEntry[]>();
    for (const [id, { task, events }] of batch) {
      const last = events[events.length - 1] as TaskEvent;
      if (!FINAL_STATES.includes(last.state)) continue;
      let entries = byTask.get(task);
      if (!entries) {
        entries = [];
        byTask.set(task, entries);
      }
      entries.push({ id, state: last.state, finishedAt: last.at });
    }
    const expiresAt = { N: String(Math.floor(now / 1000) + this.#options.ttlSeconds) };
    return [...byTask].map(([task, entries]) => {
      entries.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
      this.#sequence = (this.#sequence + 1) % 1_000_000;
      const newest = (entries[0] as RecentEntry).finishedAt;
      return {
        id: { S: recentKey(task) },
        step: { S: `${newest}#${this.#writerId}-${this.#sequence}` },
        data: { S: JSON.stringify(entries) },
        expiresAt,
      };
    });
  }

  /** One item: the task's steps buffered together, its state after them, and what a final step carries. */
  #item(id: string, pending: Pending, now: number): Record<string, AttributeValue> {
    const { events, details, task } = pending;
    const last = events[events.length - 1] as TaskEvent;
    const first = events[0] as TaskEvent;
    const attempt = Math.max(...events.map((step) => step.attempt));
    this.#sequence = (this.#sequence + 1) % 1_000_000;
    // The keys and the TTL are attributes; everything else is one JSON string (`data`): each
    // attribute costs the SDK and DynamoDB work, and a busy worker writes thousands.
    const data: Record<string, unknown> = { task, state: last.state, attempt, events: timelineSteps(events) };
    if (FINAL_STATES.includes(last.state)) data.finishedAt = last.at;
    if (last.state === 'succeeded') {
      if (last.durationMs !== undefined) data.durationMs = last.durationMs;
      if (details.result !== undefined) {
        const inputs = new Set(details.inputs ?? []);
        data.artifacts = findArtifacts(details.result).filter((uri) => !inputs.has(uri));
        const json = JSON.stringify(details.result);
        if (json !== undefined && Buffer.byteLength(json) <= MAX_RESULT_BYTES) data.result = details.result;
        else if (json !== undefined) data.resultTruncated = true;
      }
    } else if (details.error) {
      data.error = details.error;
    }
    return {
      id: { S: id },
      // Sorts a task's items by attempt, then time; the writer's counter keeps two groups apart.
      step: { S: `${String(attempt).padStart(5, '0')}#${first.at}#${this.#writerId}-${this.#sequence}` },
      data: { S: JSON.stringify(data) },
      expiresAt: { N: String(Math.floor(now / 1000) + this.#options.ttlSeconds) },
    };
  }
}
