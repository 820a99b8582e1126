import { PublishBatchCommand, type SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { classifyAwsError, retryBatch } from '@tq/aws';
import { isTaskValidationError, type TaskValidationError } from '@tq/contracts';
import type { Destinations } from './destinations.js';
import { fromAwsError, isProducerError, ProducerError } from './errors.js';
import { MAX_BATCH_ENTRIES } from './limits.js';
import { planBatches } from './plan.js';
import { activeTraceContext, fifoFields, type Prepared, sendResult, type TraceHeaders } from './prepare.js';
import type { BatchItem, BatchItemResult } from './types.js';

/**
 * Items validated at a time, when the batch calls run out of planned work: small enough that
 * validating them never leaves the calls idle for long.
 */
const SEGMENT_ITEMS = 100;

/** Batch entry ids: positions, made once. */
const ENTRY_IDS = Array.from({ length: MAX_BATCH_ENTRIES }, (_, position) => String(position));

/** What `sendBatch` needs of the producer. */
export interface BatchDeps<TItem = BatchItem> {
  sqs: SQSClient;
  sns: SNSClient;
  destinations: Destinations;
  prepare(item: TItem, trace: TraceHeaders): Prepared;
  /** Stores an oversized task in S3 and swaps its body for a pointer (see the producer's `largePayloads`). */
  claimCheck(prepared: Prepared): Promise<void>;
  /** Batch calls at once. */
  concurrency: number;
  /** Attempts per entry that failed transiently. */
  attempts: number;
}

interface Entry {
  index: number;
  prepared: Prepared;
  /** `topic`, or the queue's key (`send_email`, `send_email.fifo`). */
  destination: string;
  bytes: number;
  limit: number;
}

interface Batch {
  destination: string;
  route: 'topic' | 'queue';
  fifo: boolean;
  entries: Entry[];
}

/** Runs `work` over `items` with at most `limit` running at once. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}

/**
 * Sends any number of tasks in as few batch calls as the limits allow, `concurrency` calls at
 * once; batches to one FIFO queue go one after another, so a message group keeps its order.
 * Whichever call comes free first validates the next segment when no planned batch is left, so
 * validation overlaps the calls in flight. Never throws for one item: one result per item, in
 * input order.
 */
export async function sendBatch<TItem = BatchItem>(
  items: readonly TItem[],
  deps: BatchDeps<TItem>,
): Promise<BatchItemResult[]> {
  const results: BatchItemResult[] = new Array(items.length);
  const fail = (index: number, error: unknown) => {
    results[index] = {
      ok: false,
      error:
        isTaskValidationError(error) || isProducerError(error)
          ? (error as TaskValidationError | ProducerError)
          : new ProducerError('AWS_ERROR', (error as Error).message ?? String(error), { cause: error }),
    };
  };
  // One lookup of the caller's trace context for the whole call (it cannot change within it).
  const trace = activeTraceContext();

  /** Validates one segment, claim-checks its oversized tasks, and plans its batch calls. */
  const planSegment = async (from: number, to: number): Promise<Batch[]> => {
    // Invalid items are reported; the rest still go.
    const ready: Entry[] = [];
    for (let index = from; index < to; index += 1) {
      try {
        const prepared = deps.prepare(items[index] as TItem, trace);
        const task = prepared.envelope.task;
        const destination = prepared.route === 'topic' ? 'topic' : prepared.fifo ? `${task}.fifo` : task;
        ready.push({ index, prepared, destination, bytes: prepared.bytes, limit: prepared.limit });
      } catch (error) {
        fail(index, error);
      }
    }
    const oversized = ready.filter((entry) => entry.bytes > entry.limit);
    const stored = new Set<number>();
    await pool(oversized, deps.concurrency, async (entry) => {
      try {
        await deps.claimCheck(entry.prepared);
        entry.bytes = entry.prepared.bytes;
        stored.add(entry.index);
      } catch (error) {
        fail(entry.index, error);
      }
    });
    const sendable = ready.filter((entry) => entry.bytes <= entry.limit || stored.has(entry.index));
    return planBatches(sendable).map(({ destination, entries }) => {
      const first = (entries[0] as Entry).prepared;
      return { destination, route: first.route, fifo: first.fifo, entries };
    });
  };

  const upcoming: Batch[] = [];
  let plannedUpTo = 0;
  let planning: Promise<void> | undefined;
  const nextBatch = async (): Promise<Batch | undefined> => {
    for (;;) {
      if (upcoming.length > 0) return upcoming.shift();
      // One segment is validated at a time; calls that come free meanwhile wait for it.
      if (planning !== undefined) {
        await planning;
        continue;
      }
      if (plannedUpTo >= items.length) return undefined;
      const from = plannedUpTo;
      plannedUpTo = Math.min(items.length, from + SEGMENT_ITEMS);
      planning = planSegment(from, plannedUpTo).then((batches) => {
        upcoming.push(...batches);
        planning = undefined;
      });
    }
  };

  const deliver = (batch: Batch) => deliverBatch(batch, deps, results, fail);

  // Batches to one FIFO queue go one after another, so a message group keeps its order.
  const fifoTails = new Map<string, Promise<void>>();
  const runners = Array.from({ length: deps.concurrency }, async () => {
    for (let batch = await nextBatch(); batch !== undefined; batch = await nextBatch()) {
      if (!batch.fifo) {
        await deliver(batch);
        continue;
      }
      const previous = fifoTails.get(batch.destination) ?? Promise.resolve();
      const current = previous.then(() => deliver(batch));
      fifoTails.set(batch.destination, current);
      await current;
    }
  });
  await Promise.all(runners);
  return results;
}

/** Backoff between attempts of one batch call (`@tq/aws`'s one formula, full jitter). */
const BATCH_BACKOFF = { baseMs: 100, capMs: 5_000, jitter: 'full' } as const;

/** One batch call with its retries (`retryBatch`): entries that failed transiently go again, with backoff. */
async function deliverBatch(
  batch: Batch,
  deps: BatchDeps<never>,
  results: BatchItemResult[],
  fail: (index: number, error: unknown) => void,
): Promise<void> {
  let target: string;
  try {
    target =
      batch.route === 'topic'
        ? await deps.destinations.topic()
        : await deps.destinations.queue(batch.entries[0]?.prepared.envelope.task ?? '', batch.fifo);
  } catch (error) {
    for (const { index } of batch.entries) fail(index, error);
    return;
  }
  const where = `${batch.route === 'topic' ? 'topic' : 'queue'} ${target}`;
  await retryBatch(batch.entries, {
    attempts: deps.attempts,
    backoff: BATCH_BACKOFF,
    call: async (pending, attempt) => {
      // Entry ids are positions in this call, never derived from the bodies.
      const byId = new Map<string, Entry>();
      for (let position = 0; position < pending.length; position += 1) {
        byId.set(ENTRY_IDS[position] ?? String(position), pending[position] as Entry);
      }
      const { Successful, Failed } = await callBatch(batch, target, byId, deps);
      for (const success of Successful ?? []) {
        const entry = byId.get(success.Id ?? '');
        if (!entry) continue;
        results[entry.index] = { ok: true, ...sendResult(entry.prepared, success.MessageId ?? '') };
        byId.delete(success.Id ?? '');
      }
      const retry: Entry[] = [];
      let error: ProducerError | undefined;
      for (const failure of Failed ?? []) {
        const entry = byId.get(failure.Id ?? '');
        if (!entry) continue;
        byId.delete(failure.Id ?? '');
        const rejected = new ProducerError(
          classifyAwsError({ name: failure.Code }) === 'throttled' ? 'THROTTLED' : 'AWS_ERROR',
          `${where} rejected the task: ${failure.Code}: ${failure.Message ?? ''}`,
          { retryable: failure.SenderFault !== true },
        );
        if (rejected.retryable && attempt < deps.attempts) {
          retry.push(entry);
          error = rejected;
        } else fail(entry.index, rejected);
      }
      // Entries the response did not mention were not confirmed: try them again.
      for (const entry of byId.values()) retry.push(entry);
      if (retry.length === 0) return { retry };
      return { retry, error: error ?? new ProducerError('AWS_ERROR', `${where} did not confirm the task`) };
    },
    giveUp: (entries, error) => {
      const failure = isProducerError(error) ? error : fromAwsError(error, where);
      for (const { index } of entries) fail(index, failure);
    },
  });
}

/** The batch call itself: `PublishBatch` to the topic or `SendMessageBatch` to a queue. */
function callBatch(batch: Batch, target: string, byId: Map<string, Entry>, deps: BatchDeps<never>) {
  if (batch.route === 'topic') {
    return deps.sns.send(
      new PublishBatchCommand({
        TopicArn: target,
        PublishBatchRequestEntries: [...byId].map(([id, { prepared }]) => ({
          Id: id,
          Message: prepared.body,
          MessageAttributes: prepared.attributes,
        })),
      }),
    );
  }
  return deps.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: target,
      Entries: [...byId].map(([id, { prepared }]) => ({
        Id: id,
        MessageBody: prepared.body,
        MessageAttributes: prepared.attributes,
        ...(prepared.options.delaySeconds !== undefined ? { DelaySeconds: prepared.options.delaySeconds } : {}),
        ...fifoFields(prepared),
      })),
    }),
  );
}
