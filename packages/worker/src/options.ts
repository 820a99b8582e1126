import { builtinHint, type TaskName, type TaskRegistry } from '@tq/contracts';
import type { RetryOptions } from './backoff.js';
import { WorkerError } from './errors.js';
import { type Limit, WORKER_LIMITS } from './limits.js';
import type { WorkerOptions } from './types.js';

/** The options a worker runs with: checked, with every default filled in. */
export interface ResolvedOptions {
  concurrency: number;
  batchSize: number;
  pollers: number;
  /** Messages held beyond `concurrency`, waiting for a slot (0 on FIFO queues: see `prefetch`). */
  prefetch: number;
  waitTimeSeconds: number;
  emptyReceiveDelayMs: number;
  visibilityTimeoutSeconds: number;
  heartbeatMs: number;
  handlerTimeoutMs: number;
  shutdownGraceMs: number;
  abortWaitMs: number;
  retry: RetryOptions | undefined;
  receiveBackoff: { baseMs: number; capMs: number };
  /** Versions the handler takes. */
  versions: ReadonlySet<number>;
}

function check(problems: string[], name: string, value: number | undefined, limit: Limit): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < limit.min || value > limit.max) {
    problems.push(`${name} is ${String(value)}, must be from ${limit.min} to ${limit.max}`);
  } else if (limit.integer && !Number.isInteger(value)) {
    problems.push(`${name} must be an integer`);
  }
}

/**
 * Checks `createWorker`'s options against `WORKER_LIMITS` and the registry, and fills in the
 * defaults. Throws `WorkerError` (`INVALID_OPTIONS`) naming every problem at once.
 */
export function resolveOptions<TTask extends TaskName>(
  options: WorkerOptions<TTask>,
  registry: TaskRegistry,
): ResolvedOptions {
  const problems: string[] = [];
  if (typeof options.handler !== 'function') problems.push('handler must be a function');
  const definition = registry.get(options.task);
  if (!definition) {
    problems.push(
      `unknown task "${options.task}" (known: ${registry.names().join(', ')})${builtinHint(options.registry)}`,
    );
  }
  for (const version of options.versions ?? []) {
    if (definition && !definition.versions[version]) problems.push(`task "${options.task}" has no version ${version}`);
  }
  const L = WORKER_LIMITS;
  check(problems, 'concurrency', options.concurrency, L.concurrency);
  check(problems, 'batchSize', options.batchSize, L.batchSize);
  check(problems, 'pollers', options.pollers, L.pollers);
  check(problems, 'prefetch', options.prefetch, L.prefetch);
  check(problems, 'waitTimeSeconds', options.waitTimeSeconds, L.waitTimeSeconds);
  check(problems, 'emptyReceiveDelayMs', options.emptyReceiveDelayMs, L.emptyReceiveDelayMs);
  check(problems, 'visibilityTimeoutSeconds', options.visibilityTimeoutSeconds, L.visibilityTimeoutSeconds);
  check(problems, 'handlerTimeoutMs', options.handlerTimeoutMs, L.handlerTimeoutMs);
  check(problems, 'shutdownGraceMs', options.shutdownGraceMs, L.shutdownGraceMs);
  check(problems, 'abortWaitMs', options.abortWaitMs, L.abortWaitMs);
  check(problems, 'retry.baseSeconds', options.retry?.baseSeconds, L.retryDelaySeconds);
  check(problems, 'retry.capSeconds', options.retry?.capSeconds, L.retryDelaySeconds);
  check(problems, 'receiveBackoff.baseMs', options.receiveBackoff?.baseMs, L.receiveBackoffBaseMs);
  check(problems, 'receiveBackoff.capMs', options.receiveBackoff?.capMs, L.receiveBackoffCapMs);
  const visibility = options.visibilityTimeoutSeconds ?? L.visibilityTimeoutSeconds.default;
  check(problems, 'heartbeatIntervalSeconds', options.heartbeatIntervalSeconds, {
    min: 0.1,
    max: visibility - 0.1,
    integer: false,
  });
  if (problems.length > 0) {
    throw new WorkerError('INVALID_OPTIONS', `invalid worker options: ${problems.join('; ')}`);
  }
  const concurrency = options.concurrency ?? L.concurrency.default;
  const prefetch = options.prefetch ?? L.prefetch.default;
  const batchSize = Math.min(options.batchSize ?? L.batchSize.default, concurrency + prefetch);
  const waitTimeSeconds = options.waitTimeSeconds ?? L.waitTimeSeconds.default;
  return {
    concurrency,
    batchSize,
    // Enough receives in flight to fill every slot and the prefetch buffer, at most 10.
    pollers: options.pollers ?? Math.min(10, Math.max(1, Math.ceil((concurrency + prefetch) / batchSize))),
    prefetch,
    waitTimeSeconds,
    // Without long polling an empty receive would be followed by the next at once.
    emptyReceiveDelayMs: options.emptyReceiveDelayMs ?? (waitTimeSeconds === 0 ? 500 : 0),
    visibilityTimeoutSeconds: visibility,
    heartbeatMs: (options.heartbeatIntervalSeconds ?? visibility / 3) * 1000,
    handlerTimeoutMs: options.handlerTimeoutMs ?? L.handlerTimeoutMs.default,
    shutdownGraceMs: options.shutdownGraceMs ?? L.shutdownGraceMs.default,
    abortWaitMs: options.abortWaitMs ?? L.abortWaitMs.default,
    retry: options.retry,
    receiveBackoff: {
      baseMs: options.receiveBackoff?.baseMs ?? L.receiveBackoffBaseMs.default,
      capMs: options.receiveBackoff?.capMs ?? L.receiveBackoffCapMs.default,
    },
    versions: new Set(options.versions ?? Object.keys(definition?.versions ?? {}).map(Number)),
  };
}
