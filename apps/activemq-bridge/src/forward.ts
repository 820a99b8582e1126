import { setTimeout } from 'node:timers/promises';
import { type BrokerConnection, isBrokerError } from '@tq/activemq';
import { copyQueueName, type TaskName, toFlatMessage } from '@tq/contracts';
import { createWorker, type HandlerContext, type Worker, type WorkerOptions } from '@tq/worker';
import type { BridgeBody } from './config.js';
import type { BridgeMetrics } from './metrics.js';

/** The consumer name of the bridge's copy queues: `<prefix>-<task>-activemq`. */
export const COPY_CONSUMER = 'activemq';

/** Options of `createForwarder`. */
export interface ForwarderOptions<TTask extends TaskName> {
  task: TTask;
  broker: BrokerConnection;
  /** STOMP destination, e.g. `/queue/tq.send_email`. */
  destination: string;
  body?: BridgeBody;
  metrics: BridgeMetrics;
  /**
   * The queue read: the task's copy queue `<prefix>-<task>-activemq` (default), which the topic
   * feeds beside the task's own queue. `worker.queueName`/`queueUrl` override it.
   */
  worker: Omit<WorkerOptions<TTask>, 'task' | 'handler' | 'readiness'>;
}

/** What a forwarded task's handler returns (its status result). */
export interface ForwardResult {
  destination: string;
  broker: string;
}

/**
 * STOMP headers of a forwarded task. ActiveMQ hands every one to JMS consumers as a string
 * property (`message.getStringProperty("tq_task")`); names are JMS identifiers so selectors can
 * use them (`tq_task = 'send_email'`). A FIFO task's group becomes `JMSXGroupID`, so ActiveMQ's
 * message groups keep its order for JMS consumers too.
 */
export function forwardHeaders(
  context: Pick<
    HandlerContext<TaskName>,
    'task' | 'id' | 'version' | 'attempt' | 'traceparent' | 'tracestate' | 'idempotencyKey' | 'groupId'
  >,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    tq_task: context.task,
    tq_task_id: context.id,
    tq_version: String(context.version),
    tq_attempt: String(context.attempt),
  };
  if (context.traceparent) headers.traceparent = context.traceparent;
  if (context.tracestate) headers.tracestate = context.tracestate;
  if (context.idempotencyKey) headers.tq_idempotency_key = context.idempotencyKey;
  if (context.groupId) headers.JMSXGroupID = context.groupId;
  return headers;
}

/**
 * A tq worker that forwards each valid task of `task` to ActiveMQ: the envelope (or the flat
 * form) as a persistent JSON text message, deleted from SQS only once the broker confirmed it
 * with a receipt. While the broker is away the worker takes no new messages (not ready), and a
 * task being forwarded waits for the next connection and is sent again there, its message kept
 * invisible by the runtime's heartbeats: an outage costs no task an attempt. A send the broker
 * refuses or does not confirm in time fails the attempt (retried with backoff; dead-lettered
 * with the reason after the queue's maxReceiveCount).
 */
export function createForwarder<TTask extends TaskName>(options: ForwarderOptions<TTask>): Worker<TTask> {
  const { broker, destination, metrics, task } = options;
  const flat = options.body === 'flat';
  const prefix = options.worker.prefix ?? 'tq';
  const forwarded = metrics.forwarded.labels({ task, destination });
  return createWorker<TTask>({
    queueName: copyQueueName(prefix, task, COPY_CONSUMER),
    ...options.worker,
    task,
    readiness: () => broker.connected,
    handler: async (_payload, context): Promise<ForwardResult> => {
      const body = JSON.stringify(flat ? toFlatMessage(context.envelope) : context.envelope);
      const headers = forwardHeaders(context);
      for (;;) {
        await broker.waitConnected(context.signal);
        try {
          await broker.send(destination, body, headers, { signal: context.signal });
          forwarded.inc();
          return { destination, broker: broker.address.display };
        } catch (error) {
          if (!isBrokerError(error)) throw error;
          metrics.sendFailures.labels({ code: error.code }).inc();
          // The connection ended (or was not there): send again on the next one. The broker may
          // have stored the first send already: JMS consumers see tq_task_id twice at most.
          if (error.code !== 'NOT_CONNECTED' && error.code !== 'DISCONNECTED') throw error;
          // Never a busy loop: when the drop is not yet seen as one, give it a moment.
          if (broker.connected) await setTimeout(100, undefined, { signal: context.signal });
        }
      }
    },
  });
}
