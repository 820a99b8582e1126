import { S3LocationError } from '@tq/aws';
import { describe, expect, it } from 'vitest';
import { NonRetryableError, RetryLaterError, WorkerError } from './errors.js';
import { decide, outcomeOfError } from './policy.js';

const context = (attempt: number, maxReceiveCount: number | undefined) => ({
  attempt,
  maxReceiveCount,
  retry: { baseSeconds: 2, capSeconds: 900, jitter: 'none' as const },
});

describe('decide: the failure table', () => {
  it('acknowledges a success on any attempt', () => {
    expect(decide({ kind: 'succeeded' }, context(1, 3))).toEqual({ action: 'ack' });
    expect(decide({ kind: 'succeeded' }, context(3, 3))).toEqual({ action: 'ack' });
  });

  it('retries a failure with exponential backoff, or the delay it asked for, before the last attempt', () => {
    expect(decide({ kind: 'failed', message: 'boom' }, context(1, 3))).toEqual({ action: 'retry', delaySeconds: 2 });
    expect(decide({ kind: 'failed', message: 'boom' }, context(2, 3))).toEqual({ action: 'retry', delaySeconds: 4 });
    expect(decide({ kind: 'failed', message: 'later', delaySeconds: 30 }, context(2, 3))).toEqual({
      action: 'retry',
      delaySeconds: 30,
    });
    expect(decide({ kind: 'failed', message: 'boom' }, context(99, undefined))).toEqual({
      action: 'retry',
      delaySeconds: 900,
    });
  });

  it('dead-letters the last failed attempt itself, with the last error, whatever delay it asked for', () => {
    for (const outcome of [
      { kind: 'failed' as const, message: 'boom' },
      { kind: 'failed' as const, message: 'boom', delaySeconds: 30 },
    ]) {
      expect(decide(outcome, context(3, 3))).toEqual({
        action: 'dead-letter',
        code: 'RETRIES_EXHAUSTED',
        reason: 'failed 3 attempts; last error: boom',
      });
    }
  });

  it('dead-letters poison at once with its own code, and releases on shutdown', () => {
    expect(decide({ kind: 'poison', code: 'SCHEMA_VIOLATION', message: 'bad' }, context(1, 3))).toEqual({
      action: 'dead-letter',
      code: 'SCHEMA_VIOLATION',
      reason: 'bad',
    });
    expect(decide({ kind: 'shutdown' }, context(3, 3))).toEqual({ action: 'release' });
  });

  it('draws the jittered delay from the random source it is given', () => {
    const retry = { baseSeconds: 8 };
    expect(
      decide({ kind: 'failed', message: 'x' }, { attempt: 1, maxReceiveCount: 5, retry, random: () => 0.5 }),
    ).toEqual({ action: 'retry', delaySeconds: 4 });
  });
});

describe('outcomeOfError', () => {
  it('sorts what handlers throw into poison and failures', () => {
    expect(outcomeOfError(new NonRetryableError('no', { code: 'SMTP_REJECTED' }))).toEqual({
      kind: 'poison',
      code: 'SMTP_REJECTED',
      message: 'no',
    });
    expect(outcomeOfError(new S3LocationError('LOCATION_NOT_ALLOWED', 's3://x/y', 'outside'))).toMatchObject({
      kind: 'poison',
      code: 'LOCATION_NOT_ALLOWED',
    });
    expect(outcomeOfError(new RetryLaterError(12, 'slow down'))).toEqual({
      kind: 'failed',
      message: 'slow down',
      delaySeconds: 12,
    });
    expect(outcomeOfError(new WorkerError('HANDLER_TIMEOUT', 'too slow'))).toEqual({
      kind: 'failed',
      message: 'too slow',
    });
    expect(outcomeOfError('a string')).toEqual({ kind: 'failed', message: 'a string' });
  });
});
