import {
  atExpression,
  registry as builtinRegistry,
  createTask,
  isTaskValidationError,
  ONE_TIME_PREFIX,
  SCHEDULED_TIME,
  type TaskName,
  type TaskPayload,
  type TaskRegistry,
  type Violation,
} from '@tq/contracts';
import { Cron } from 'croner';
import { TopologyError } from './errors.js';

export { ONE_TIME_PREFIX, SCHEDULED_TIME, SNS_PUBLISH_TARGET, scheduleTarget } from '@tq/contracts';

const RATE_UNITS = { second: 1, minute: 60, hour: 3600, day: 86_400 } as const;
type RateUnit = keyof typeof RATE_UNITS;

/** What `defineSchedule` takes: one of `cron`, `rate` or `at`. */
export interface ScheduleOptions<TTask extends TaskName = TaskName> {
  /** 1-64 letters, digits, `-`, `_` or `.` (EventBridge Scheduler's rule); unique in the topology. */
  name: string;
  task: TTask;
  /** Checked against the task's schema now: an invalid payload is refused here, not when it fires. */
  payload: TaskPayload<TTask>;
  /** The payload's version; default the task's latest. */
  version?: number;
  /**
   * A cron expression: five fields (`0 2 * * *`: minute hour day-of-month month day-of-week,
   * Sunday = 0), or EventBridge's own `cron(0 2 * * ? *)`. Day-of-month and day-of-week cannot
   * both be set (EventBridge cannot express it).
   */
  cron?: string;
  /** Every so often: `'5 minutes'`, `'1 hour'`, `'1 day'`; `'1 second'` and other sub-minute rates run locally only. */
  rate?: string;
  /** Once, at this time: a `Date`, or ISO 8601 (without an offset: in `timezone`). */
  at?: Date | string;
  /** IANA time zone of `cron` and of an `at` without offset. Default `UTC`. */
  timezone?: string;
  description?: string;
  /** Default true; a disabled schedule exists but does not fire. */
  enabled?: boolean;
  registry?: TaskRegistry;
}

/** A checked schedule: what the local scheduler, `tq schedules` and the CDK constructs read. */
export interface ScheduleDefinition {
  readonly name: string;
  readonly task: string;
  readonly version: number;
  readonly payload: unknown;
  readonly kind: 'cron' | 'rate' | 'at';
  /** The five-field cron (Sunday = 0) for `kind: 'cron'`. */
  readonly cron?: string;
  /** Seconds between firings for `kind: 'rate'`. */
  readonly rateSeconds?: number;
  /** The instant (ISO 8601, UTC) for `kind: 'at'`. */
  readonly at?: string;
  readonly timezone: string;
  readonly description?: string;
  readonly enabled: boolean;
  /** The EventBridge Scheduler expression: `cron(...)`, `rate(...)` or `at(...)`. */
  readonly expression: string;
  /** The expression's time zone (`at` is always in UTC). */
  readonly expressionTimezone: string;
}

function invalid(name: string, violations: Violation[]): never {
  throw new TopologyError('INVALID_SCHEDULE', `invalid schedule "${name}"`, { violations });
}

function checkTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/**
 * Maps a day-of-week field between the Unix convention (0-7, Sunday = 0 or 7) and EventBridge's
 * (1-7, Sunday = 1). Ranges and steps are expanded to lists, so `1-5` and `*\/2` keep meaning
 * the same days; names, `L` and `#` pass through with their day mapped.
 */
function mapDayOfWeek(field: string, to: 'aws' | 'unix'): string {
  if (field === '*' || field === '?') return field;
  const from = to === 'aws' ? { min: 0, max: 6 } : { min: 1, max: 7 };
  const day = (token: string): number => {
    const index = DAY_NAMES.indexOf(token.toUpperCase());
    if (index >= 0) return to === 'aws' ? index : index + 1; // a name, read in the source convention
    const value = Number(token);
    if (!/^\d+$/.test(token)) throw new Error(`"${token}" is not a day of the week`);
    return to === 'aws' ? value % 7 : value;
  };
  const out = (value: number) => String(to === 'aws' ? (value % 7) + 1 : value - 1);
  return field
    .split(',')
    .map((token) => {
      const special = /^([A-Za-z0-9]+)([#L].*)$/.exec(token);
      if (special) return `${out(day(special[1] as string))}${special[2]}`;
      const match = /^(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:\/(\d+))?$/.exec(token);
      if (!match) throw new Error(`"${token}" is not a day-of-week value`);
      const [, start, end, step] = match;
      if (start !== '*' && end === undefined && step === undefined) return out(day(start as string));
      const first = start === '*' ? from.min : day(start as string);
      const last = end !== undefined ? day(end) : start === '*' ? from.max : from.max;
      const days: string[] = [];
      for (let value = first; value <= last; value += Number(step ?? 1)) days.push(out(value));
      return days.join(',');
    })
    .join(',');
}

/** Parses `cron` into the five Unix fields and EventBridge's six, or says why not. */
function parseCron(cron: string): { unix: string; aws: string } {
  const aws = /^cron\((.*)\)$/.exec(cron.trim());
  if (aws) {
    const fields = (aws[1] as string).trim().split(/\s+/);
    if (fields.length !== 6)
      throw new Error('cron(...) takes six fields: minute hour day-of-month month day-of-week year');
    const [minute, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
    if (year !== '*') throw new Error('only "*" is supported as the year');
    if (dom !== '?' && dow !== '?') throw new Error('one of day-of-month and day-of-week must be "?"');
    const unix = [minute, hour, dom === '?' ? '*' : dom, month, dow === '?' ? '*' : mapDayOfWeek(dow, 'unix')];
    return { unix: unix.join(' '), aws: `cron(${fields.join(' ')})` };
  }
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5)
    throw new Error('a cron expression has five fields: minute hour day-of-month month day-of-week');
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const domSet = dom !== '*' && dom !== '?';
  const dowSet = dow !== '*' && dow !== '?';
  if (domSet && dowSet)
    throw new Error('day-of-month and day-of-week cannot both be set (EventBridge Scheduler cannot express it)');
  const awsFields = [
    minute,
    hour,
    dowSet ? '?' : dom === '?' ? '*' : dom,
    month,
    dowSet ? mapDayOfWeek(dow, 'aws') : '?',
    '*',
  ];
  return {
    unix: [minute, hour, dom === '?' ? '*' : dom, month, dow === '?' ? '*' : dow].join(' '),
    aws: `cron(${awsFields.join(' ')})`,
  };
}

/** Parses `'5 minutes'` (or `rate(5 minutes)`) into seconds. */
function parseRate(rate: string): number {
  const match = /^(?:rate\()?\s*(\d+)\s+(second|minute|hour|day)s?\s*\)?$/i.exec(rate.trim());
  if (!match) throw new Error(`"${rate}" is not a rate: write "<n> seconds|minutes|hours|days"`);
  const value = Number(match[1]);
  if (value < 1) throw new Error('a rate is at least 1');
  return value * RATE_UNITS[(match[2] as string).toLowerCase() as RateUnit];
}

/** A rate in seconds as EventBridge writes it: `rate(1 minute)`, `rate(5 minutes)`, `rate(1 day)`. */
function rateExpression(seconds: number): string {
  const [unit, size] = (Object.entries(RATE_UNITS) as [RateUnit, number][])
    .reverse()
    .find(([, size]) => seconds % size === 0) as [RateUnit, number];
  const count = seconds / size;
  return `rate(${count} ${unit}${count === 1 ? '' : 's'})`;
}

/**
 * Defines a recurring (`cron`, `rate`) or one-time (`at`) task: checked now (name, expression,
 * time zone, and the payload against the task's schema), so a bad schedule fails where it is
 * written. Throws `TopologyError` (`INVALID_SCHEDULE`) listing every problem.
 */
export function defineSchedule<TTask extends TaskName>(options: ScheduleOptions<TTask>): ScheduleDefinition {
  const name = String(options.name);
  const violations: Violation[] = [];
  if (!/^[0-9a-zA-Z._-]{1,64}$/.test(name)) {
    violations.push({ path: '/name', message: `must be 1-64 letters, digits, ".", "_" or "-", got "${name}"` });
  } else if (name.startsWith(ONE_TIME_PREFIX)) {
    violations.push({
      path: '/name',
      message: `"${ONE_TIME_PREFIX}" names belong to one-time sends (send(..., { at }))`,
    });
  }
  const timezone = options.timezone ?? 'UTC';
  if (!checkTimezone(timezone))
    violations.push({ path: '/timezone', message: `"${timezone}" is not an IANA time zone` });
  const kinds = (['cron', 'rate', 'at'] as const).filter((kind) => options[kind] !== undefined);
  if (kinds.length !== 1) {
    violations.push({ path: '/', message: `give exactly one of cron, rate or at (got ${kinds.join(', ') || 'none'})` });
  }
  const registry = options.registry ?? builtinRegistry;
  let version = options.version ?? registry.get(options.task)?.latestVersion ?? 1;
  try {
    const envelope = createTask(options.task, options.payload, {
      registry,
      ...(options.version !== undefined ? { version: options.version } : {}),
    });
    version = envelope.version;
  } catch (error) {
    if (!isTaskValidationError(error)) throw error;
    if (error.violations.length === 0) violations.push({ path: '/task', message: error.message });
    for (const violation of error.violations) violations.push(violation);
  }
  const base = {
    name,
    task: options.task,
    version,
    payload: options.payload,
    timezone,
    enabled: options.enabled ?? true,
    ...(options.description !== undefined ? { description: options.description } : {}),
  };
  let definition: ScheduleDefinition | undefined;
  const kind = kinds[0];
  try {
    if (kind === 'cron') {
      const { unix, aws } = parseCron(options.cron as string);
      // croner checks every field (and the time zone) the way the local scheduler will run it.
      new Cron(unix, { timezone, mode: '5-part', paused: true });
      definition = { ...base, kind, cron: unix, expression: aws, expressionTimezone: timezone };
    } else if (kind === 'rate') {
      const rateSeconds = parseRate(options.rate as string);
      definition = { ...base, kind, rateSeconds, expression: rateExpression(rateSeconds), expressionTimezone: 'UTC' };
    } else if (kind === 'at') {
      const at = options.at as Date | string;
      const instant =
        at instanceof Date
          ? at
          : /(?:Z|[+-]\d\d:?\d\d)$/i.test(at)
            ? new Date(at)
            : new Cron(at, { timezone, paused: true }).nextRun(new Date(0));
      if (instant === null || Number.isNaN(instant.getTime())) throw new Error(`"${String(at)}" is not a time`);
      const iso = instant.toISOString().replace(/\.\d{3}Z$/, 'Z');
      definition = { ...base, kind, at: iso, expression: atExpression(instant), expressionTimezone: 'UTC' };
    }
  } catch (error) {
    violations.push({ path: `/${kind}`, message: (error as Error).message });
  }
  if (violations.length > 0 || definition === undefined) invalid(name, violations);
  return definition;
}

/**
 * When an EventBridge Scheduler expression (`cron(...)`, `rate(...)`, `at(...)`) fires next, as
 * `tq schedules` shows for any schedule of a group: up to `count` times after `from`, a rate
 * counting from `since` (its creation). Throws for an expression it cannot read.
 */
export function nextRunsOfExpression(
  expression: string,
  timezone: string | undefined,
  count: number,
  options: { from?: Date; since?: Date } = {},
): Date[] {
  const tz = timezone ?? 'UTC';
  const base = {
    name: 'x',
    task: '',
    version: 1,
    payload: null,
    timezone: tz,
    enabled: true,
    expression,
    expressionTimezone: tz,
  };
  let definition: ScheduleDefinition;
  if (expression.startsWith('cron(')) definition = { ...base, kind: 'cron', cron: parseCron(expression).unix };
  else if (expression.startsWith('rate(')) definition = { ...base, kind: 'rate', rateSeconds: parseRate(expression) };
  else {
    const at = /^at\((.+)\)$/.exec(expression)?.[1];
    if (!at) throw new Error(`"${expression}" is not a schedule expression`);
    const instant =
      tz === 'UTC' ? new Date(`${at}Z`) : new Cron(at, { timezone: tz, paused: true }).nextRun(new Date(0));
    definition = { ...base, kind: 'at', at: (instant ?? new Date(Number.NaN)).toISOString() };
  }
  return nextRuns(definition, count, options);
}

/** When a schedule fires next, up to `count` times after `from` (a rate counts from `since`). */
export function nextRuns(
  schedule: ScheduleDefinition,
  count: number,
  options: { from?: Date; since?: Date } = {},
): Date[] {
  const from = options.from ?? new Date();
  if (!schedule.enabled) return [];
  if (schedule.kind === 'at') {
    const at = new Date(schedule.at as string);
    return at > from ? [at] : [];
  }
  if (schedule.kind === 'rate') {
    const step = (schedule.rateSeconds as number) * 1000;
    const since = (options.since ?? from).getTime();
    const first = since + Math.max(1, Math.ceil((from.getTime() - since + 1) / step)) * step;
    return Array.from({ length: count }, (_, index) => new Date(first + index * step));
  }
  return new Cron(schedule.cron as string, { timezone: schedule.timezone, mode: '5-part', paused: true }).nextRuns(
    count,
    from,
  );
}

/**
 * The SNS message a firing publishes: an envelope without `id` (the worker takes the SQS
 * message id) whose `createdAt` is the scheduled time and whose idempotency key is the schedule
 * and that time, so a schedule fired twice for one time (a retry, two local schedulers) does its
 * effect once where the worker guards it.
 */
export function scheduleMessage(schedule: ScheduleDefinition): string {
  return JSON.stringify({
    task: schedule.task,
    version: schedule.version,
    createdAt: SCHEDULED_TIME,
    idempotencyKey: `schedule:${schedule.name}:${SCHEDULED_TIME}`,
    payload: schedule.payload,
  });
}

/** EventBridge Scheduler's shortest rate: sub-minute rates run on the local scheduler only. */
export function checkDeployable(schedule: ScheduleDefinition): void {
  if (schedule.kind === 'rate' && (schedule.rateSeconds as number) % 60 !== 0) {
    throw new TopologyError(
      'INVALID_SCHEDULE',
      `schedule "${schedule.name}" runs every ${schedule.rateSeconds} s: EventBridge Scheduler's rates are whole minutes (use "1 minute" or more, or a cron expression)`,
    );
  }
}
