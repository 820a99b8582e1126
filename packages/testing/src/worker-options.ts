import { type Logger, pino } from 'pino';

/** The runtime options `testWorkerOptions` gives a worker under test. */
export interface TestWorkerOptions {
  queueUrl?: string;
  logger: Logger;
  handleSignals: false;
  waitTimeSeconds: number;
  retry?: { baseSeconds: number };
}

/**
 * Runtime options for a worker under test (spread them into `createWorker`'s options or an app's
 * `worker`): its queue (else the worker finds it by `prefix`), a silent logger, no signal handling (the test runner owns the signals) and
 * 1 s long polls, so `stop()` returns quickly. With `retryAtOnce`, a failed task is retried
 * without the backoff delay, so retry tests do not wait for it.
 */
export function testWorkerOptions(queueUrl?: string, options: { retryAtOnce?: boolean } = {}): TestWorkerOptions {
  return {
    ...(queueUrl === undefined ? {} : { queueUrl }),
    logger: pino({ level: 'silent' }),
    handleSignals: false,
    waitTimeSeconds: 1,
    ...(options.retryAtOnce ? { retry: { baseSeconds: 0 } } : {}),
  };
}
