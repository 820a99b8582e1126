import { AWS_LIMITS, type TaskName, type TaskRegistry } from '@tq/contracts';
import { envNumber, envString } from '@tq/worker';
import type { RelayMode, RelayPayload } from './relay.js';

/** The relay's configuration, from the environment (the README lists each variable). */
export interface RelayConfig {
  task: TaskName;
  /** The project's task types (its tq.config.ts): the relayed task is one of them. */
  registry: TaskRegistry;
  url: string;
  mode: RelayMode;
  payload: RelayPayload;
  concurrency: number;
  timeoutSeconds: number;
}

/**
 * Reads `TQ_TASK` (one of the project's tasks, from its `registry`), `RELAY_URL`, `RELAY_MODE`,
 * `RELAY_PAYLOAD`, `RELAY_CONCURRENCY`, `RELAY_TIMEOUT_SECONDS`.
 */
export function readRelayConfig(
  registry: TaskRegistry,
  env: Readonly<Record<string, string | undefined>> = process.env,
): RelayConfig {
  const names = registry.names();
  const task = envString(env, 'TQ_TASK', {
    pattern: new RegExp(`^(${names.join('|')})$`),
    describe: `one of ${names.join(', ')}`,
  }) as TaskName;
  const url = envString(env, 'RELAY_URL', {
    pattern: /^https?:\/\/\S+$/,
    describe: 'an http(s) URL such as http://127.0.0.1:8000/worker.php',
  });
  const mode = envString(env, 'RELAY_MODE', {
    default: 'post',
    pattern: /^(post|query)$/,
    describe: 'post or query',
  }) as RelayMode;
  const payload = envString(env, 'RELAY_PAYLOAD', {
    default: mode === 'query' ? 'flat' : 'envelope',
    pattern: /^(envelope|flat)$/,
    describe: 'envelope or flat',
  }) as RelayPayload;
  return {
    task,
    registry,
    url,
    mode,
    payload,
    concurrency: envNumber(env, 'RELAY_CONCURRENCY', { default: 10, min: 1, max: 1000, integer: true }),
    timeoutSeconds: envNumber(env, 'RELAY_TIMEOUT_SECONDS', {
      default: 30,
      min: 1,
      max: AWS_LIMITS.sqs.maxVisibilityTimeoutSeconds,
    }),
  };
}
