import { AWS_LIMITS } from './aws-limits.js';
import type { Violation } from './errors.js';

/** Per-queue settings a task definition proposes; topology provisions them. */
export interface QueueSettings {
  /** How long a received message stays invisible before another receive can see it. */
  readonly visibilityTimeoutSeconds: number;
  /** Receives after which SQS moves the message to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** How long SQS keeps an unconsumed message. */
  readonly messageRetentionSeconds: number;
  /** How long the task queue delays every new message. */
  readonly delaySeconds: number;
  /** Long-poll wait applied to receives that do not set one. */
  readonly receiveWaitTimeSeconds: number;
}

/** The real AWS limit of each setting (inclusive), checked before any call. */
export const QUEUE_SETTING_RANGES: { readonly [K in keyof QueueSettings]: readonly [number, number] } = {
  visibilityTimeoutSeconds: [0, AWS_LIMITS.sqs.maxVisibilityTimeoutSeconds],
  maxReceiveCount: [1, AWS_LIMITS.sqs.maxReceiveCount],
  messageRetentionSeconds: [AWS_LIMITS.sqs.minRetentionSeconds, AWS_LIMITS.sqs.maxRetentionSeconds],
  delaySeconds: [0, AWS_LIMITS.sqs.maxDelaySeconds],
  receiveWaitTimeSeconds: [0, AWS_LIMITS.sqs.maxWaitTimeSeconds],
};

/** Defaults for a task queue when a definition does not say otherwise. */
export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  visibilityTimeoutSeconds: 60,
  maxReceiveCount: 5,
  messageRetentionSeconds: 4 * 24 * 3600,
  delaySeconds: 0,
  receiveWaitTimeSeconds: 20,
};

/**
 * Checks settings against AWS's ranges. Each violation names the setting, the value and the
 * allowed range, e.g. `messageRetentionSeconds is 4, must be an integer from 60 to 1209600`.
 */
export function checkQueueSettings(settings: Partial<QueueSettings>, path = ''): Violation[] {
  const violations: Violation[] = [];
  for (const [key, [min, max]] of Object.entries(QUEUE_SETTING_RANGES)) {
    const value = settings[key as keyof QueueSettings];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < min || value > max) {
      violations.push({
        path: `${path}/${key}`,
        message: `${key} is ${String(value)}, must be an integer from ${min} to ${max}`,
      });
    }
  }
  return violations;
}
