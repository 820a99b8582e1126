import { ConfigError } from '@tq/contracts';
import { type Limit, WORKER_LIMITS } from './limits.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Reads one environment variable as a number in a range; throws `ConfigError` naming it. */
export function envNumber(
  env: Env,
  name: string,
  options: { default: number; min: number; max: number; integer?: boolean },
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return options.default;
  const value = Number(raw);
  const integer = options.integer ?? true;
  if (!Number.isFinite(value) || value < options.min || value > options.max || (integer && !Number.isInteger(value))) {
    throw new ConfigError(
      `${name} is "${raw}", must be ${integer ? 'an integer' : 'a number'} from ${options.min} to ${options.max}`,
    );
  }
  return value;
}

/** One numeric setting of an app's table: the variable it is read from, its default and range. */
export interface EnvNumberSpec {
  env: string;
  default: number;
  min: number;
  max: number;
  /** Whole numbers only (default true). */
  integer?: boolean;
}

/**
 * Reads a whole table of numeric settings from the environment (`envNumber` for each), so an
 * app keeps its limits, defaults, ranges and variable names in one table that its options and
 * its `main.ts` both read. Throws `ConfigError` naming the first variable out of range.
 */
export function envNumbers<TKey extends string>(
  env: Env,
  table: Readonly<Record<TKey, EnvNumberSpec>>,
): Record<TKey, number> {
  const values = {} as Record<TKey, number>;
  for (const key of Object.keys(table) as TKey[]) {
    const spec = table[key];
    values[key] = envNumber(env, spec.env, spec);
  }
  return values;
}

/** The defaults of a table of settings (what an app uses when an option is not given). */
export function tableDefaults<TKey extends string>(table: Readonly<Record<TKey, EnvNumberSpec>>): Record<TKey, number> {
  const values = {} as Record<TKey, number>;
  for (const key of Object.keys(table) as TKey[]) values[key] = table[key].default;
  return values;
}

/** Reads one environment variable as a string, with a default; `pattern` names what it must look like. */
export function envString(
  env: Env,
  name: string,
  options: { default?: string; pattern?: RegExp; describe?: string } = {},
): string {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? options.default : raw;
  if (value === undefined)
    throw new ConfigError(`${name} is not set${options.describe ? `: ${options.describe}` : ''}`);
  if (options.pattern && !options.pattern.test(value)) {
    throw new ConfigError(`${name} is "${value}", must be ${options.describe ?? `like ${options.pattern}`}`);
  }
  return value;
}

/** Worker settings every app reads the same way (see the apps' READMEs). */
export interface WorkerEnvironment {
  concurrency: number;
  prefetch: number;
  visibilityTimeoutSeconds: number;
  handlerTimeoutMs: number;
  shutdownGraceMs: number;
  abortWaitMs: number;
  http: { port: number; host: string } | false;
}

type EnvLimit = Limit & { env: string; default: number };

/**
 * Reads `TQ_CONCURRENCY`, `TQ_PREFETCH`, `TQ_VISIBILITY_TIMEOUT`, `TQ_HANDLER_TIMEOUT_MS`, `TQ_SHUTDOWN_GRACE_MS`,
 * `TQ_ABORT_WAIT_MS`, `TQ_HTTP_PORT` (0 picks a free port, `off` disables) and `TQ_HTTP_HOST`,
 * with each app's defaults and the ranges of `WORKER_LIMITS`. Throws `ConfigError` naming the
 * variable and its allowed range.
 */
export function readWorkerEnvironment(
  env: Env = process.env,
  defaults: Partial<Omit<WorkerEnvironment, 'http'>> & { httpPort?: number } = {},
): WorkerEnvironment {
  const httpRaw = env.TQ_HTTP_PORT;
  const http =
    httpRaw === 'off'
      ? false
      : {
          port: envNumber(env, 'TQ_HTTP_PORT', { default: defaults.httpPort ?? 8080, min: 0, max: 65_535 }),
          host: envString(env, 'TQ_HTTP_HOST', { default: '127.0.0.1' }),
        };
  // Whole numbers in the environment, whatever the option takes.
  const read = (limit: EnvLimit, fallback: number | undefined) =>
    envNumber(env, limit.env, { default: fallback ?? limit.default, min: limit.min, max: limit.max });
  return {
    concurrency: read(WORKER_LIMITS.concurrency, defaults.concurrency),
    prefetch: read(WORKER_LIMITS.prefetch, defaults.prefetch),
    visibilityTimeoutSeconds: read(WORKER_LIMITS.visibilityTimeoutSeconds, defaults.visibilityTimeoutSeconds),
    handlerTimeoutMs: read(WORKER_LIMITS.handlerTimeoutMs, defaults.handlerTimeoutMs),
    shutdownGraceMs: read(WORKER_LIMITS.shutdownGraceMs, defaults.shutdownGraceMs),
    abortWaitMs: read(WORKER_LIMITS.abortWaitMs, defaults.abortWaitMs),
    http,
  };
}
