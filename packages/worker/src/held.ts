import type { Message } from '@aws-sdk/client-sqs';

/**
 * Where a held message is:
 * - `waiting`: received, not started (behind its FIFO group, or during shutdown);
 * - `handling`: being decoded or handled;
 * - `settling`: its outcome is being carried out (delete, retry, dead-letter, release);
 * - `abandoned`: its aborted handler ignores the abort; left to its visibility timeout;
 * - `done`: no longer held.
 */
export type HeldState = 'waiting' | 'handling' | 'settling' | 'abandoned' | 'done';

/** A message the worker holds, from its receipt until it is settled. */
export interface Held {
  message: Message;
  messageId: string;
  receiptHandle: string;
  /** When this worker received it (ms since the epoch). */
  receivedAt: number;
  /** 1 on the first delivery; SQS's `ApproximateReceiveCount`. */
  attempt: number;
  /** The FIFO message group, on FIFO queues only. */
  groupId: string | undefined;
  state: HeldState;
  /** When its visibility ends, as far as this worker knows (ms since the epoch). */
  visibleUntil: number;
  /** The heartbeat call in flight for this message, which an acknowledgement must wait for. */
  heartbeat: Promise<void> | undefined;
  /** The handling of a message outside a FIFO group, while it lasts (what shutdown waits for). */
  work: Promise<unknown> | undefined;
}

/** A received message as the worker holds it. */
export function hold(message: Message, now: number, visibilitySeconds: number, fifo: boolean): Held {
  return {
    message,
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    receivedAt: now,
    attempt: Number(message.Attributes?.ApproximateReceiveCount ?? 1) || 1,
    // Standard queues may carry group ids too (fair queues): there they mean fairness, not order.
    groupId: fifo ? message.Attributes?.MessageGroupId : undefined,
    state: 'waiting',
    visibleUntil: now + visibilitySeconds * 1000,
    heartbeat: undefined,
    work: undefined,
  };
}
