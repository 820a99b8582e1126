import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BrokerConnection, type BrokerMessage, type BrokerSubscription, isBrokerError } from '@tq/activemq';
import { backoffDelay } from '@tq/aws';
import {
  isTaskValidationError,
  parseTask,
  type TaskEnvelope,
  type TaskName,
  type TaskPayload,
  type TaskRegistry,
} from '@tq/contracts';
import { isProducerError, type Producer } from '@tq/producer-sdk';
import type { Logger } from 'pino';
import type { BridgeMetrics } from './metrics.js';

/** Options of `createIngest`. */
export interface IngestOptions {
  broker: BrokerConnection;
  /** The project's task types: a message of any other type is dead-lettered. */
  registry: TaskRegistry;
  /** Publishes into tq (SNS fan-out, like any producer). */
  producer: Pick<Producer, 'send'>;
  /** The ActiveMQ queue JMS/STOMP producers put tasks on, e.g. `/queue/tq.ingest`. */
  queue: string;
  /** Where invalid tasks go, e.g. `/queue/tq.ingest.dlq`. */
  deadLetterQueue: string;
  /** Messages handed out unacknowledged at once (`activemq.prefetchSize`). Default 10. */
  prefetch?: number;
  metrics: BridgeMetrics;
  logger: Logger;
  /** Backoff of failed publishes (tq unreachable): first delay and cap, ms. Default 250 ms to 30 s. */
  retry?: { baseMs?: number; capMs?: number };
}

/** The part of a reason kept in the dead-letter header. */
const MAX_REASON_CHARS = 1024;

/** A dead-lettered message keeps its own headers, except the ones of this delivery. */
const DELIVERY_HEADERS = new Set([
  'message-id',
  'destination',
  'subscription',
  'ack',
  'receipt',
  'content-length',
  'redelivered',
  'timestamp',
  'expires',
  'priority',
]);

/**
 * A task id derived from the broker's message id: a message delivered twice (the bridge died
 * between publishing it and acking it) goes into tq with the same id both times, so the worker's
 * idempotency guard and `tq status` see one task. Shaped as a version-8 (custom) UUID.
 */
export function idFromMessageId(messageId: string): string {
  const hex = createHash('sha256').update(`activemq:${messageId}`).digest('hex');
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Why a message cannot become a task: the code and reason headers of its dead letter. */
interface Rejection {
  code: string;
  reason: string;
}

/**
 * Reads a message as a task: an envelope, the seed article's flat form (`{"task":"send_email",
 * "to":…}`), or a bare payload with the task type in the `tq_task` header. Flat and bare
 * messages get an id derived from the message id and keep `tq_idempotency_key` and
 * `traceparent` headers.
 */
export function taskOfMessage(
  message: Pick<BrokerMessage, 'body' | 'headers'>,
  registry: TaskRegistry,
): { ok: true; envelope: TaskEnvelope; form: 'envelope' | 'flat' } | { ok: false; rejection: Rejection } {
  let value: unknown;
  try {
    value = JSON.parse(message.body);
  } catch (error) {
    return { ok: false, rejection: { code: 'INVALID_JSON', reason: `body is not JSON: ${(error as Error).message}` } };
  }
  const header = message.headers.tq_task;
  if (
    header !== undefined &&
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !('task' in value)
  ) {
    value = { task: header, ...(value as Record<string, unknown>) };
  }
  const messageId = message.headers['message-id'];
  const parsed = parseTask(value, {
    registry,
    defaults: {
      id: messageId ? idFromMessageId(messageId) : undefined,
      createdAt: message.headers.timestamp ? new Date(Number(message.headers.timestamp)).toISOString() : undefined,
    },
  });
  if (!parsed.ok) {
    // The error's message lists every violation with its path.
    return { ok: false, rejection: { code: parsed.error.code, reason: parsed.error.message } };
  }
  return parsed;
}

/**
 * Brings tasks from an ActiveMQ queue into tq: each message is validated with `@tq/contracts`
 * and published through the producer SDK (SNS fan-out to the task's queue), and acknowledged
 * only after that. An invalid one goes to the dead-letter destination, persistent and with
 * `tq_error_code` and `tq_error_reason` headers (plus its own), and is acknowledged only after
 * the broker confirmed that. A publish that fails is tried again with backoff while the message
 * stays unacknowledged; on a lost connection the broker hands unacknowledged messages out again.
 */
export class Ingest {
  readonly #options: IngestOptions;
  readonly #running = new Set<Promise<void>>();
  readonly #stopping = new AbortController();
  #subscription: BrokerSubscription | undefined;

  constructor(options: IngestOptions) {
    this.#options = options;
  }

  /** Messages being published or dead-lettered right now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** True once subscribed (the broker connection re-subscribes on every reconnect). */
  get started(): boolean {
    return this.#subscription !== undefined;
  }

  start(): void {
    const { broker, queue, prefetch = 10 } = this.#options;
    this.#subscription = broker.subscribe(queue, (message) => this.#accept(message), {
      ack: 'client-individual',
      'activemq.prefetchSize': String(prefetch),
    });
    this.#options.logger.info(
      { queue, deadLetterQueue: this.#options.deadLetterQueue, prefetch },
      'taking tasks from ActiveMQ into tq',
    );
  }

  /**
   * Stops taking messages and waits up to `graceMs` for those being handled; the rest are left
   * unacknowledged (the broker hands them out again once this connection closes).
   */
  async stop(graceMs: number): Promise<void> {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    if (this.#running.size > 0) {
      const grace = new AbortController();
      await Promise.race([
        Promise.allSettled([...this.#running]),
        sleep(graceMs, undefined, { signal: grace.signal }),
      ]).catch(() => {});
      grace.abort();
    }
    this.#stopping.abort();
    await Promise.allSettled([...this.#running]);
  }

  #accept(message: BrokerMessage): void {
    const work = this.#handle(message).catch((error: unknown) => {
      if (this.#stopping.signal.aborted) return;
      this.#options.logger.error({ err: error }, 'could not handle a message from ActiveMQ; it stays with the broker');
    });
    this.#running.add(work);
    void work.finally(() => this.#running.delete(work));
  }

  async #handle(message: BrokerMessage): Promise<void> {
    const { metrics, logger } = this.#options;
    const messageId = message.headers['message-id'];
    const task = taskOfMessage(message, this.#options.registry);
    if (!task.ok) {
      await this.#deadLetter(message, task.rejection);
      metrics.rejected.labels({ code: task.rejection.code }).inc();
      logger.warn(
        { messageId, code: task.rejection.code, reason: task.rejection.reason },
        'invalid task from ActiveMQ: dead-lettered',
      );
      return;
    }
    const { envelope } = task;
    const sent = await this.#publish(envelope, message);
    if (sent === 'rejected') return;
    if (!message.ack()) {
      // The connection it came on ended: the broker hands it out again, and the same id goes to tq again.
      logger.warn(
        { messageId, id: envelope.id },
        'published into tq but the connection to ack on ended: it will come again',
      );
      return;
    }
    metrics.ingested.labels({ task: envelope.task }).inc();
    logger.info(
      { messageId, id: envelope.id, task: envelope.task, route: sent },
      'task from ActiveMQ published into tq',
    );
  }

  /** Publishes until it works, or dead-letters when tq can never take it. */
  async #publish(envelope: TaskEnvelope, message: BrokerMessage): Promise<string | 'rejected'> {
    const { producer, metrics, logger, retry } = this.#options;
    const baseMs = retry?.baseMs ?? 250;
    const capMs = retry?.capMs ?? 30_000;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const result = await producer.send(envelope.task as TaskName, envelope.payload as TaskPayload<TaskName>, {
          id: envelope.id,
          ...(envelope.idempotencyKey ? { idempotencyKey: envelope.idempotencyKey } : {}),
          ...(envelope.traceparent ? { traceparent: envelope.traceparent } : {}),
          ...(envelope.tracestate ? { tracestate: envelope.tracestate } : {}),
        });
        return result.route;
      } catch (error) {
        const permanent =
          isTaskValidationError(error) || (isProducerError(error) && error.code === 'PAYLOAD_TOO_LARGE');
        if (permanent) {
          const code = (error as { code: string }).code;
          await this.#deadLetter(message, { code, reason: (error as Error).message });
          metrics.rejected.labels({ code }).inc();
          logger.warn({ id: envelope.id, code }, 'task from ActiveMQ cannot go into tq: dead-lettered');
          return 'rejected';
        }
        metrics.publishFailures.inc();
        const jittered = backoffDelay(attempt, { baseMs, capMs, jitter: 'equal' });
        if (attempt === 1 || attempt % 10 === 0) {
          logger.error(
            { err: error, id: envelope.id, attempt },
            'publishing into tq failed: trying again with backoff',
          );
        }
        await sleep(jittered, undefined, { signal: this.#stopping.signal });
      }
    }
  }

  /** Sends the message to the dead-letter destination with the reason, then acks it. */
  async #deadLetter(message: BrokerMessage, rejection: Rejection): Promise<void> {
    const { broker, deadLetterQueue, queue } = this.#options;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(message.headers)) {
      if (!DELIVERY_HEADERS.has(name)) headers[name] = value;
    }
    headers.tq_error_code = rejection.code;
    headers.tq_error_reason = rejection.reason.slice(0, MAX_REASON_CHARS);
    headers.tq_source = queue;
    if (message.headers['message-id']) headers.tq_source_message_id = message.headers['message-id'];
    try {
      await broker.send(deadLetterQueue, message.body, headers);
    } catch (error) {
      // Connection gone: the broker hands the original out again on the next one. Refused or
      // unconfirmed: hand it back now (ActiveMQ's redelivery policy takes it from there).
      if (!isBrokerError(error, 'NOT_CONNECTED', 'DISCONNECTED')) message.nack();
      throw error;
    }
    message.ack();
  }
}

/** Creates the ActiveMQ → tq direction of the bridge (call `start()`). */
export function createIngest(options: IngestOptions): Ingest {
  return new Ingest(options);
}
