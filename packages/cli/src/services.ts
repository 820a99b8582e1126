import { ListScheduleGroupsCommand } from '@aws-sdk/client-scheduler';
import { probeService, type ServiceProbe } from '@tq/aws';
import { serviceEndpoint, type TqEnvironment } from '@tq/contracts';
import { PROBE_TIMEOUT_MS, probeDynamoDb } from '@tq/status';
import type { CliContext } from './context.js';
import { schedulerClient } from './schedules.js';

/** Whether the endpoints serve the services beside SQS, SNS and S3 that some features need. */
export interface StateServices {
  /** Task status and idempotency records. */
  dynamodb: ServiceProbe;
  /** Schedules and sends beyond 15 minutes. */
  scheduler: ServiceProbe;
}

/**
 * Asks the endpoints whether they serve DynamoDB and EventBridge Scheduler, with one cheap call
 * each. Real AWS (no endpoint set for the service) serves both and is not asked.
 */
export async function probeStateServices(context: CliContext): Promise<StateServices> {
  const { env } = context;
  const [dynamodb, scheduler] = await Promise.all([
    serviceEndpoint('dynamodb', env) === undefined ? ('served' as const) : probeDynamoDb(context.status().dynamodb),
    serviceEndpoint('scheduler', env) === undefined
      ? ('served' as const)
      : (async () => {
          const client = schedulerClient(env);
          try {
            const abortSignal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
            return await probeService(() =>
              client.send(new ListScheduleGroupsCommand({ MaxResults: 1 }), { abortSignal }),
            );
          } finally {
            client.destroy();
          }
        })(),
  ]);
  return { dynamodb, scheduler };
}

/** The services beside SQS, SNS and S3: what is off without each, and the variable that points it elsewhere. */
const STATE_SERVICES = [
  { key: 'dynamodb', service: 'DynamoDB', features: ['task status', 'idempotency'], variable: 'TQ_DYNAMODB_ENDPOINT' },
  {
    key: 'scheduler',
    service: 'EventBridge Scheduler',
    features: ['schedules', 'sends beyond 15 minutes'],
    variable: 'TQ_SCHEDULER_ENDPOINT',
  },
] as const;

/**
 * One line naming what is off because an endpoint lacks a service, and the variable that points
 * each at another endpoint; undefined when nothing is off.
 */
export function servicesOffLine(env: TqEnvironment, services: StateServices): string | undefined {
  const missing = STATE_SERVICES.filter((entry) => services[entry.key] === 'missing').map((entry) => ({
    ...entry,
    endpoint: serviceEndpoint(entry.key, env) as string,
  }));
  if (missing.length === 0) return undefined;
  const sameEndpoint = missing.every((entry) => entry.endpoint === missing[0]?.endpoint);
  const what = sameEndpoint
    ? `${missing[0]?.endpoint} serves no ${missing.map((entry) => entry.service).join(' and no ')}`
    : missing.map((entry) => `${entry.endpoint} serves no ${entry.service}`).join(', ');
  const features = missing.flatMap((entry) => entry.features);
  const variables = missing.map((entry) => entry.variable);
  const it = missing.length === 1 ? 'it' : 'them';
  return `${what}: ${listed(features)} are off (point ${listed(variables)} at an endpoint that serves ${it} to turn them on)`;
}

/** "a", "a and b", "a, b and c". */
function listed(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}
