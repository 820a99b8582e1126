import { type AttributeValue, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { toAttribute } from './attributes.js';
import {
  DEFAULT_TTL_SECONDS,
  FINAL_STATES,
  MAX_MESSAGE_CHARS,
  MAX_RESULT_BYTES,
  MAX_TIMELINE_ATTEMPTS,
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
  /** Steps of one task arriving within this window go in one write. Default 100 ms. */
  coalesceMs?: number;
  /** Writes in flight at once. Default 8. */
  concurrency?: number;
  /** Tasks waiting to be written; steps beyond are dropped (counted). Default 10,000. */
  maxPending?: number;
  /**
   * Told when writes start failing (once per outage, with the error) and when they work again.
   * Writes never throw to the caller: an unreachable store means "status unknown".
   */
  onOutage?: (event: { kind: 'down'; error: unknown } | { kind: 'recovered'; failed: number }) => void;
}

/** Counters of a `StatusWriter`. */
export interface StatusWriterStats {
  /** Updates written. */
  written: number;
  /** Updates that failed (store unreachable, throttled, missing table). */
  failed: number;
  /** Steps dropped because `maxPending` tasks were waiting. */
  dropped: number;
}

interface Pending {
  task: string;
  events: TaskEvent[];
  details: StepDetails;
}

/** Every `s3://` URI in a value (the outputs a handler reports), at most 50. */
export function findArtifacts(value: unknown, found = new Set<string>(), depth = 0): string[] {
  if (found.size >= 50 || depth > 8) return [...found];
  if (typeof value === 'string') {
    if (/^s3:\/\/[^/\s]+\/\S*$/.test(value)) found.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) findArtifacts(item, found, depth + 1);
  } else if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) findArtifacts(item, found, depth + 1);
  }
  return [...found];
}

/**
 * The steps that join the timeline: all of them for the first `MAX_TIMELINE_ATTEMPTS` attempts,
 * then only final ones, so a task redelivered hundreds of times keeps a bounded item (DynamoDB
 * items hold at most 400 KB); its state and attempt count stay current either way.
 */
export function timelineSteps(events: TaskEvent[]): TaskEvent[] {
  return events.filter((step) => step.attempt <= MAX_TIMELINE_ATTEMPTS || FINAL_STATES.includes(step.state));
}

const cut = (text: string) => (text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…` : text);

/**
 * Records task steps in the status table, off the caller's path: `record()` only buffers. Steps
 * of one task that arrive close together (received, running, succeeded of a quick handler) become
 * one `UpdateItem`. Each update is conditional: an item in a final state (`succeeded`,
 * `dead-lettered`) or at a higher attempt keeps its state, and the step is only added to its
 * timeline. Failures are counted and reported once per outage, never thrown.
 */
export class StatusWriter {
  readonly #options: Required<Omit<StatusWriterOptions, 'onOutage'>> & Pick<StatusWriterOptions, 'onOutage'>;
  readonly #pending = new Map<string, Pending>();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #down = false;
  #failedInOutage = 0;
  readonly stats: StatusWriterStats = { written: 0, failed: 0, dropped: 0 };

  constructor(options: StatusWriterOptions) {
    this.#options = {
      ttlSeconds: DEFAULT_TTL_SECONDS,
      coalesceMs: 100,
      concurrency: 8,
      maxPending: 10_000,
      ...options,
    };
  }

  /** Buffers one step of a task; written within `coalesceMs` (or as soon as a write slot frees). */
  record(id: string, task: string, event: TaskEvent, details: StepDetails = {}): void {
    let pending = this.#pending.get(id);
    if (!pending) {
      if (this.#pending.size >= this.#options.maxPending) {
        this.stats.dropped += 1;
        return;
      }
      pending = { task, events: [], details: {} };
      this.#pending.set(id, pending);
    }
    const step = event.durationMs === undefined ? event : { ...event, durationMs: Math.round(event.durationMs) };
    pending.events.push(step.message === undefined ? step : { ...step, message: cut(step.message) });
    if (details.result !== undefined) pending.details.result = details.result;
    if (details.inputs !== undefined) pending.details.inputs = details.inputs;
    if (details.error !== undefined) pending.details.error = { ...details.error, message: cut(details.error.message) };
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#drain();
    }, this.#options.coalesceMs);
  }

  /** Writes everything buffered now and waits for it (and for writes in flight). */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#pending.size > 0 || this.#inFlight.size > 0) {
      this.#drain();
      await Promise.race(this.#inFlight);
    }
  }

  #drain(): void {
    for (const [id, pending] of this.#pending) {
      if (this.#inFlight.size >= this.#options.concurrency) return;
      this.#pending.delete(id);
      const write = this.#write(id, pending).finally(() => {
        this.#inFlight.delete(write);
        if (this.#pending.size > 0 && !this.#timer) this.#drain();
      });
      this.#inFlight.add(write);
    }
  }

  async #write(id: string, pending: Pending): Promise<void> {
    try {
      await this.#update(id, pending);
      this.stats.written += 1;
      if (this.#down) {
        this.#down = false;
        this.#options.onOutage?.({ kind: 'recovered', failed: this.#failedInOutage });
        this.#failedInOutage = 0;
      }
    } catch (error) {
      this.stats.failed += 1;
      this.#failedInOutage += 1;
      if (!this.#down) {
        this.#down = true;
        this.#options.onOutage?.({ kind: 'down', error });
      }
    }
  }

  async #update(id: string, pending: Pending): Promise<void> {
    const { events, details, task } = pending;
    const last = events[events.length - 1] as TaskEvent;
    const attempts = Math.max(...events.map((event) => event.attempt));
    const timeline = timelineSteps(events);
    const now = new Date().toISOString();
    const final = FINAL_STATES.includes(last.state);
    const names: Record<string, string> = {
      '#task': 'task',
      '#state': 'state',
      '#attempts': 'attempts',
      '#updatedAt': 'updatedAt',
      '#createdAt': 'createdAt',
      '#expiresAt': 'expiresAt',
      '#events': 'events',
      '#id': 'id',
    };
    const values: Record<string, AttributeValue> = {
      ':task': { S: task },
      ':state': { S: last.state },
      ':attempts': { N: String(attempts) },
      ':now': { S: now },
      ':createdAt': { S: events[0]?.at ?? now },
      ':expiresAt': { N: String(Math.floor(Date.now() / 1000) + this.#options.ttlSeconds) },
      ':events': toAttribute(timeline),
      ':empty': { L: [] },
      ':succeeded': { S: 'succeeded' },
      ':deadLettered': { S: 'dead-lettered' },
    };
    const set = [
      '#task = :task',
      '#state = :state',
      '#attempts = :attempts',
      '#updatedAt = :now',
      '#expiresAt = :expiresAt',
      '#createdAt = if_not_exists(#createdAt, :createdAt)',
    ];
    const remove: string[] = [];
    if (final) {
      names['#finishedAt'] = 'finishedAt';
      values[':finishedAt'] = { S: last.at };
      set.push('#finishedAt = :finishedAt');
    }
    if (last.durationMs !== undefined && last.state === 'succeeded') {
      names['#durationMs'] = 'durationMs';
      values[':durationMs'] = { N: String(Math.round(last.durationMs)) };
      set.push('#durationMs = :durationMs');
    }
    if (last.state === 'succeeded') {
      names['#error'] = 'error';
      remove.push('#error');
      if (details.result !== undefined) {
        const json = JSON.stringify(details.result);
        names['#artifacts'] = 'artifacts';
        const inputs = new Set(details.inputs ?? []);
        values[':artifacts'] = toAttribute(findArtifacts(details.result).filter((uri) => !inputs.has(uri)));
        set.push('#artifacts = :artifacts');
        if (json !== undefined && Buffer.byteLength(json) <= MAX_RESULT_BYTES) {
          names['#result'] = 'result';
          values[':result'] = { S: json };
          set.push('#result = :result');
        } else if (json !== undefined) {
          names['#resultTruncated'] = 'resultTruncated';
          values[':true'] = { BOOL: true };
          set.push('#resultTruncated = :true');
        }
      }
    } else if (details.error) {
      names['#error'] = 'error';
      values[':error'] = toAttribute(details.error);
      set.push('#error = :error');
    }
    const appendEvents = '#events = list_append(if_not_exists(#events, :empty), :events)';
    try {
      await this.#options.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.#options.tableName,
          Key: { id: { S: id } },
          UpdateExpression: `SET ${[...set, appendEvents].join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression:
            'attribute_not_exists(#id) OR (NOT #state IN (:succeeded, :deadLettered) AND #attempts <= :attempts)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      if (timeline.length > 0) await this.#appendOnly(id, timeline);
    }
  }

  /** The item is final or at a later attempt: its state stays, the steps join its timeline. */
  async #appendOnly(id: string, events: TaskEvent[]): Promise<void> {
    await this.#options.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.#options.tableName,
        Key: { id: { S: id } },
        UpdateExpression: 'SET #events = list_append(if_not_exists(#events, :empty), :events)',
        ExpressionAttributeNames: { '#events': 'events' },
        ExpressionAttributeValues: { ':events': toAttribute(events), ':empty': { L: [] } },
      }),
    );
  }
}

/** The state a step records, for callers building events. */
export function event(state: TaskState, attempt: number, extra: Omit<TaskEvent, 'state' | 'attempt' | 'at'> = {}) {
  return { state, attempt, at: new Date().toISOString(), ...extra } satisfies TaskEvent;
}
