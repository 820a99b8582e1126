import { AWS_LIMITS } from './aws-limits.js';
import type { Violation } from './errors.js';

/** How a task's worker runs by default (its app's environment overrides each). */
export interface TaskWorkerDefaults {
  /**
   * Handlers running at once in one worker process (`TQ_CONCURRENCY`); `cores`: as many as the
   * machine has cores, for CPU-bound handlers.
   */
  readonly concurrency: number | 'cores';
  /** How long one handler call may run before it is aborted (`TQ_HANDLER_TIMEOUT_MS`). */
  readonly handlerTimeoutMs: number;
}

/** How a task type's workers scale on AWS (`@tq/cdk`'s `TqWorkerService`). */
export interface TaskScaling {
  /** How long one message takes a worker slot: the backlog target is derived from it. */
  readonly secondsPerMessage: number;
  /** Fewest worker tasks (0: scale to zero when the queue is empty). */
  readonly minTasks: number;
  /** Most worker tasks. */
  readonly maxTasks: number;
  /** Fargate CPU units of one worker task (256 = a quarter vCPU). */
  readonly cpu: number;
  /** Fargate memory of one worker task, in MiB. */
  readonly memoryMiB: number;
}

/** The operational facts of a task type beside its schemas and queue settings, resolved with defaults. */
export interface TaskFacts {
  readonly worker: TaskWorkerDefaults;
  /**
   * Whether the handler's effect is guarded by idempotency records, so a redelivered task does
   * not run it again (`TQ_IDEMPOTENCY`; needs DynamoDB).
   */
  readonly idempotency: boolean;
  /**
   * The S3 locations (`s3://bucket` or `s3://bucket/prefix/`) its payloads may name, checked
   * before any S3 call and granted by IAM; undefined: the project's artifacts bucket.
   */
  readonly s3Allow: readonly string[] | undefined;
  /** Whether its handler writes to S3 (results, variants, reports), or only reads (attachments). */
  readonly s3Writes: boolean;
  /** The task types its handler may send (a chained task): granted on AWS, checked when the project loads. */
  readonly sends: readonly string[];
  readonly scaling: TaskScaling;
}

/** What `defineTask` takes for the facts: every field optional. */
export interface TaskFactsInput {
  readonly worker?: Partial<TaskWorkerDefaults>;
  readonly idempotency?: boolean;
  readonly s3Allow?: readonly string[];
  readonly s3Writes?: boolean;
  readonly sends?: readonly string[];
  readonly scaling?: Partial<TaskScaling>;
}

/** SQS's longest visibility timeout, which bounds how long a handler may hold a message. */
const SQS_MAX_VISIBILITY_SECONDS = AWS_LIMITS.sqs.maxVisibilityTimeoutSeconds;

/**
 * The one table of the facts' ranges and defaults (inclusive): `defineTask` checks against it, the
 * worker's options and environment reader take the worker ranges from it.
 */
export const TASK_FACT_RANGES = {
  concurrency: { min: 1, max: 10_000, integer: true, default: 10 },
  handlerTimeoutMs: { min: 0, max: SQS_MAX_VISIBILITY_SECONDS * 1000, integer: false, default: 15 * 60_000 },
  secondsPerMessage: { min: 0.001, max: SQS_MAX_VISIBILITY_SECONDS, integer: false, default: 5 },
  minTasks: { min: 0, max: 1_000, integer: true, default: 1 },
  maxTasks: { min: 1, max: 1_000, integer: true, default: 10 },
  cpu: { min: 256, max: 16_384, integer: true, default: 512 },
  memoryMiB: { min: 512, max: 122_880, integer: true, default: 1024 },
} as const;

/** Fargate's CPU sizes. */
const FARGATE_CPU = [256, 512, 1024, 2048, 4096, 8192, 16384];

/** `s3://bucket` or `s3://bucket/prefix/`, as allow-lists take them. */
const S3_ALLOW_ENTRY = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/([^/]+\/)*)?$/;

type RangeKey = keyof typeof TASK_FACT_RANGES;

function checkRange(key: RangeKey, value: number | undefined, path: string, violations: Violation[]): void {
  if (value === undefined) return;
  const { min, max, integer } = TASK_FACT_RANGES[key];
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    violations.push({
      path,
      message: `${key} is ${String(value)}, must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
    });
  }
}

/** Resolves a definition's facts with the defaults; returns the violations of what was given. */
export function resolveTaskFacts(input: TaskFactsInput): { facts: TaskFacts; violations: Violation[] } {
  const violations: Violation[] = [];
  if (input.worker?.concurrency !== 'cores') {
    checkRange('concurrency', input.worker?.concurrency, '/worker/concurrency', violations);
  }
  checkRange('handlerTimeoutMs', input.worker?.handlerTimeoutMs, '/worker/handlerTimeoutMs', violations);
  for (const key of ['secondsPerMessage', 'minTasks', 'maxTasks', 'cpu', 'memoryMiB'] as const) {
    checkRange(key, input.scaling?.[key], `/scaling/${key}`, violations);
  }
  const scaling: TaskScaling = {
    secondsPerMessage: input.scaling?.secondsPerMessage ?? TASK_FACT_RANGES.secondsPerMessage.default,
    minTasks: input.scaling?.minTasks ?? TASK_FACT_RANGES.minTasks.default,
    maxTasks: input.scaling?.maxTasks ?? TASK_FACT_RANGES.maxTasks.default,
    cpu: input.scaling?.cpu ?? TASK_FACT_RANGES.cpu.default,
    memoryMiB: input.scaling?.memoryMiB ?? TASK_FACT_RANGES.memoryMiB.default,
  };
  if (input.scaling?.cpu !== undefined && !FARGATE_CPU.includes(input.scaling.cpu)) {
    violations.push({
      path: '/scaling/cpu',
      message: `cpu is ${input.scaling.cpu}, must be one of ${FARGATE_CPU.join(', ')}`,
    });
  }
  if (scaling.minTasks > scaling.maxTasks) {
    violations.push({
      path: '/scaling/minTasks',
      message: `minTasks is ${scaling.minTasks}, more than maxTasks ${scaling.maxTasks}`,
    });
  }
  for (const [index, entry] of (input.s3Allow ?? []).entries()) {
    if (!S3_ALLOW_ENTRY.test(entry)) {
      violations.push({
        path: `/s3Allow/${index}`,
        message: `"${entry}" must be s3://bucket or s3://bucket/prefix/ (ending in /)`,
      });
    }
  }
  return {
    facts: {
      worker: {
        concurrency: input.worker?.concurrency ?? TASK_FACT_RANGES.concurrency.default,
        handlerTimeoutMs: input.worker?.handlerTimeoutMs ?? TASK_FACT_RANGES.handlerTimeoutMs.default,
      },
      idempotency: input.idempotency ?? false,
      s3Allow: input.s3Allow === undefined ? undefined : [...input.s3Allow],
      s3Writes: input.s3Writes ?? true,
      sends: [...(input.sends ?? [])],
      scaling,
    },
    violations,
  };
}
