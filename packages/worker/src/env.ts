import { ConfigError } from '@tq/contracts';

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
  visibilityTimeoutSeconds: number;
  handlerTimeoutMs: number;
  shutdownGraceMs: number;
  http: { port: number; host: string } | false;
}

/**
 * Reads `TQ_CONCURRENCY`, `TQ_VISIBILITY_TIMEOUT`, `TQ_HANDLER_TIMEOUT_MS`, `TQ_SHUTDOWN_GRACE_MS`,
 * `TQ_HTTP_PORT` (0 picks a free port, `off` disables) and `TQ_HTTP_HOST`, with each app's
 * defaults. Throws `ConfigError` naming the variable and its allowed range.
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
  return {
    concurrency: envNumber(env, 'TQ_CONCURRENCY', { default: defaults.concurrency ?? 10, min: 1, max: 10_000 }),
    visibilityTimeoutSeconds: envNumber(env, 'TQ_VISIBILITY_TIMEOUT', {
      default: defaults.visibilityTimeoutSeconds ?? 30,
      min: 1,
      max: 43_200,
    }),
    handlerTimeoutMs: envNumber(env, 'TQ_HANDLER_TIMEOUT_MS', {
      default: defaults.handlerTimeoutMs ?? 15 * 60_000,
      min: 0,
      max: 43_200_000,
    }),
    shutdownGraceMs: envNumber(env, 'TQ_SHUTDOWN_GRACE_MS', {
      default: defaults.shutdownGraceMs ?? 25_000,
      min: 0,
      max: 3_600_000,
    }),
    http,
  };
}
