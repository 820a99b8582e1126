import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { CreateTopicCommand, type SNSClient } from '@aws-sdk/client-sns';
import { awsServiceSettings, serviceEndpoint, type TaskRegistry, type TqEnvironment, topicName } from '@tq/contracts';
import {
  defineSchedule,
  isTopologyError,
  type ScheduleChange,
  type ScheduleDefinition,
  type ScheduleOptions,
  syncSchedules,
} from '@tq/topology';
import { UsageError } from './errors.js';

/** The file `tq up`, `tq provision` and `tq schedules` read schedules from when none is named. */
export const DEFAULT_SCHEDULES_FILE = 'tq.schedules.json';

/** The schedules file: `--schedules`, else `TQ_SCHEDULES`, else `./tq.schedules.json` when it exists. */
export function schedulesFile(flag: string | undefined): string | undefined {
  const named = flag ?? process.env.TQ_SCHEDULES;
  if (named) return resolve(named);
  const fallback = resolve(DEFAULT_SCHEDULES_FILE);
  return existsSync(fallback) ? fallback : undefined;
}

function isDefinition(value: unknown): value is ScheduleDefinition {
  return typeof value === 'object' && value !== null && typeof (value as ScheduleDefinition).expression === 'string';
}

/**
 * Reads and checks the schedules of a file: JSON (`[...]` or `{ "schedules": [...] }` of
 * `defineSchedule` options) or an ES module (`.js`, `.mjs`) whose default export (or `schedules`)
 * is such a list or `defineSchedule` results. Every entry goes through `defineSchedule`, so a bad
 * payload is refused here, before anything runs; throws `UsageError` listing each problem.
 */
export async function loadSchedules(file: string, registry: TaskRegistry): Promise<ScheduleDefinition[]> {
  let raw: unknown;
  try {
    if (/\.(m?js|cjs)$/.test(file)) {
      const module = (await import(pathToFileURL(file).href)) as { default?: unknown; schedules?: unknown };
      raw = module.schedules ?? module.default;
    } else {
      raw = JSON.parse(await readFile(file, 'utf8'));
    }
  } catch (error) {
    throw new UsageError(`cannot read the schedules in ${file}: ${(error as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { schedules?: unknown } | undefined)?.schedules;
  if (!Array.isArray(list)) throw new UsageError(`${file} must hold a list of schedules, or { "schedules": [...] }`);
  const problems: string[] = [];
  const schedules: ScheduleDefinition[] = [];
  for (const [index, entry] of list.entries()) {
    if (isDefinition(entry)) {
      schedules.push(entry);
      continue;
    }
    try {
      schedules.push(defineSchedule({ ...(entry as ScheduleOptions), registry }));
    } catch (error) {
      const name = (entry as { name?: unknown } | null)?.name;
      const label = typeof name === 'string' ? `"${name}"` : `#${index + 1}`;
      if (!isTopologyError(error)) throw error;
      const details = error.violations.length
        ? error.violations.map((v) => `${v.path}: ${v.message}`).join('; ')
        : error.message;
      problems.push(`schedule ${label}: ${details}`);
    }
  }
  if (problems.length > 0) throw new UsageError(`invalid schedules in ${file}:\n  ${problems.join('\n  ')}`);
  return schedules;
}

/** A Scheduler client for `TQ_SCHEDULER_ENDPOINT`, else the endpoint (the local one serves the API too). */
export function schedulerClient(env: TqEnvironment): SchedulerClient {
  return new SchedulerClient({ ...awsServiceSettings('scheduler', env), maxAttempts: 2 });
}

/** The schedule group of the prefix: `TQ_SCHEDULE_GROUP`, else the prefix. */
export function scheduleGroup(env: TqEnvironment): string {
  return process.env.TQ_SCHEDULE_GROUP || env.prefix;
}

/**
 * The role the scheduler publishes with: `TQ_SCHEDULER_ROLE_ARN`; a placeholder on a local
 * endpoint (it assumes nothing); on AWS without one, a `UsageError` naming the fix.
 */
export function schedulerRole(env: TqEnvironment): string {
  const role = process.env.TQ_SCHEDULER_ROLE_ARN;
  if (role) return role;
  if (serviceEndpoint('scheduler', env)) return 'arn:aws:iam::000000000000:role/tq-scheduler';
  throw new UsageError(
    'schedules on AWS need TQ_SCHEDULER_ROLE_ARN: the role EventBridge Scheduler publishes to the topic with (TqTopology makes it and puts it in environment())',
  );
}

/**
 * The topic's ARN as a scheduler target needs it: `TQ_TOPIC_ARN`, else from `CreateTopic`, which
 * answers an existing topic's ARN (provisioning, which calls this, creates the topic anyway).
 */
export async function topicArnOf(env: TqEnvironment, sns: SNSClient): Promise<string> {
  if (env.topicArn) return env.topicArn;
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: topicName(env.prefix) }));
  return TopicArn as string;
}

/**
 * Converges the schedule group of the environment (`TQ_SCHEDULE_GROUP`, else the prefix) with
 * `schedules` through the Scheduler API of `TQ_SCHEDULER_ENDPOINT` or the endpoint, publishing to
 * the topic with `TQ_SCHEDULER_ROLE_ARN`: what `tq provision --schedules` and `tq up` do.
 */
export async function convergeSchedules(
  env: TqEnvironment,
  sns: SNSClient,
  schedules: readonly ScheduleDefinition[],
  options: { prune: boolean; dryRun?: boolean },
): Promise<{ group: string; changes: ScheduleChange[] }> {
  const scheduler = schedulerClient(env);
  try {
    const group = scheduleGroup(env);
    const changes = await syncSchedules({
      scheduler,
      group,
      roleArn: schedulerRole(env),
      topicArn: await topicArnOf(env, sns),
      schedules,
      prune: options.prune,
      dryRun: options.dryRun ?? false,
    });
    return { group, changes };
  } finally {
    scheduler.destroy();
  }
}
