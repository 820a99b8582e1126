import { ConfigError } from '@tq/contracts';

/** A destination as configured: `/queue/x`, `/topic/x`, or a bare queue name (`x` → `/queue/x`). */
export function parseDestination(value: string, name: string): string {
  const text = value.trim();
  if (/^\/(queue|topic)\/[^\s/]+$/.test(text)) return text;
  if (/^[A-Za-z0-9._-]+$/.test(text)) return `/queue/${text}`;
  throw new ConfigError(`${name} has "${value}", must be a queue name (tq.mail) or /queue/<name> or /topic/<name>`);
}

/**
 * Where the ActiveMQ bridge sends each task type: `/queue/<prefix>.<task>`, or what
 * `ACTIVEMQ_DESTINATIONS` (`<task>=<destination>` pairs, comma-separated) says. The bridge and
 * `tq stats`/`tq demo` read it the same way. Throws `ConfigError` naming the variable.
 */
export function readDestinations(
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
  tasks: readonly string[],
): Record<string, string> {
  const destinations: Record<string, string> = {};
  for (const task of tasks) destinations[task] = `/queue/${prefix}.${task}`;
  for (const pair of (env.ACTIVEMQ_DESTINATIONS ?? '').split(',').filter((item) => item.trim() !== '')) {
    const [task, target, extra] = pair.split('=');
    if (!task || !target || extra !== undefined || !tasks.includes(task.trim())) {
      throw new ConfigError(
        `ACTIVEMQ_DESTINATIONS has "${pair}", must be <task>=<destination> pairs for forwarded tasks (${tasks.join(', ')})`,
      );
    }
    destinations[task.trim()] = parseDestination(target, 'ACTIVEMQ_DESTINATIONS');
  }
  return destinations;
}
