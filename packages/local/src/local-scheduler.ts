import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { type MessageAttributeValue, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { Cron } from 'croner';

/** The EventBridge Scheduler target the local scheduler runs: SNS `Publish` (universal target). */
const SNS_PUBLISH = 'arn:aws:scheduler:::aws-sdk:sns:publish';

/** A schedule as EventBridge Scheduler's API describes it (the fields tq uses). */
interface StoredSchedule {
  Name: string;
  GroupName: string;
  ScheduleExpression: string;
  ScheduleExpressionTimezone?: string;
  State: 'ENABLED' | 'DISABLED';
  Description?: string;
  StartDate?: number;
  EndDate?: number;
  FlexibleTimeWindow: { Mode: string; MaximumWindowInMinutes?: number };
  Target: { Arn: string; RoleArn: string; Input?: string; RetryPolicy?: unknown };
  ActionAfterCompletion?: 'NONE' | 'DELETE';
  CreationDate: number;
  LastModificationDate: number;
}

/** One firing of a schedule, as the local scheduler records it. */
export interface ScheduleFiring {
  schedule: string;
  group: string;
  /** The time it was due (ISO 8601, UTC, whole seconds): what `<aws.scheduler.scheduled-time>` became. */
  scheduledTime: string;
  /** When it ran. */
  firedAt: string;
  executionId: string;
  /** The SNS message id, when the publish succeeded. */
  messageId?: string;
  error?: string;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_FIRINGS = 1000;

/**
 * EventBridge Scheduler's API for the local endpoint: the schedule and schedule-group calls tq
 * makes (create, get, list, update, delete), answered as the service does, and a runner that
 * fires each enabled schedule at its times (croner for `cron(...)`, arithmetic for `rate(...)`,
 * a timer for `at(...)`) by publishing its target's input to SNS on the same endpoint. It
 * substitutes `<aws.scheduler.scheduled-time>`, `<aws.scheduler.execution-id>`,
 * `<aws.scheduler.schedule-arn>` and `<aws.scheduler.attempt-number>` as the service does.
 * Beyond the service it accepts sub-minute rates (`rate(1 second)`), for local use and tests.
 * With a state file, schedules and firings survive a restart (firings missed while stopped are
 * not made up, as EventBridge Scheduler's flexible window OFF would not either).
 */
export class LocalScheduler {
  readonly #schedules = new Map<string, StoredSchedule>();
  readonly #groups = new Map<string, number>();
  readonly #timers = new Map<string, { stop(): void }>();
  readonly #firings: ScheduleFiring[] = [];
  readonly #listeners = new Set<(firing: ScheduleFiring) => void>();
  readonly #region: string;
  readonly #file: string | undefined;
  #sns: SNSClient | undefined;
  #saving: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: { region: string; stateFile?: string }) {
    this.#region = options.region;
    this.#file = options.stateFile;
  }

  /** Loads the state file (if any) and starts firing, publishing through `endpoint`. */
  async start(endpoint: string): Promise<void> {
    this.#sns = new SNSClient({
      endpoint,
      region: this.#region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    if (this.#file) {
      try {
        const saved = JSON.parse(await readFile(this.#file, 'utf8')) as {
          schedules: StoredSchedule[];
          groups: [string, number][];
          firings: ScheduleFiring[];
        };
        for (const [name, created] of saved.groups) this.#groups.set(name, created);
        for (const schedule of saved.schedules)
          this.#schedules.set(this.#key(schedule.GroupName, schedule.Name), schedule);
        this.#firings.push(...saved.firings.slice(-MAX_FIRINGS));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    for (const schedule of this.#schedules.values()) this.#arm(schedule);
  }

  /** Every firing so far (oldest first, at most the last 1,000). */
  get firings(): readonly ScheduleFiring[] {
    return this.#firings;
  }

  /** Calls `listener` after each firing; returns a function that stops it. */
  onFiring(listener: (firing: ScheduleFiring) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.values()) timer.stop();
    this.#timers.clear();
    await this.#saving;
    this.#sns?.destroy();
  }

  #key(group: string, name: string): string {
    return `${group}/${name}`;
  }

  #arn(group: string, name: string): string {
    return `arn:aws:scheduler:${this.#region}:000000000000:schedule/${group}/${name}`;
  }

  /** Serves one API request (the endpoint hands over those signed for `scheduler`). */
  handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let result: { status: number; body: unknown };
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        result = {
          status: 200,
          body: this.#route(request.method ?? 'GET', request.url ?? '/', text ? JSON.parse(text) : {}),
        };
      } catch (error) {
        const api =
          error instanceof ApiError ? error : new ApiError(400, 'ValidationException', (error as Error).message);
        response.writeHead(api.status, { 'content-type': 'application/json', 'x-amzn-errortype': api.type });
        response.end(JSON.stringify({ Message: api.message }));
        return;
      }
      response.writeHead(result.status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(result.body));
    });
  }

  #route(method: string, url: string, body: Record<string, unknown>): unknown {
    const { pathname, searchParams } = new URL(url, 'http://local');
    const [, collection, rawName] = pathname.split('/');
    const name = rawName === undefined ? undefined : decodeURIComponent(rawName);
    if (collection === 'schedule-groups') {
      if (name === undefined) {
        return {
          ScheduleGroups: ['default', ...this.#groups.keys()].map((group) => this.#describeGroup(group)),
        };
      }
      if (method === 'POST') {
        if (this.#groups.has(name) || name === 'default')
          throw new ApiError(409, 'ConflictException', `group ${name} exists`);
        this.#groups.set(name, Date.now() / 1000);
        this.#save();
        return { ScheduleGroupArn: this.#describeGroup(name).Arn };
      }
      if (!this.#groups.has(name) && name !== 'default') {
        throw new ApiError(404, 'ResourceNotFoundException', `Schedule group ${name} does not exist.`);
      }
      if (method === 'GET') return this.#describeGroup(name);
      if (method === 'DELETE') {
        for (const schedule of [...this.#schedules.values()].filter((s) => s.GroupName === name)) {
          this.#remove(schedule);
        }
        this.#groups.delete(name);
        this.#save();
        return {};
      }
    }
    if (collection === 'schedules') {
      if (name === undefined && method === 'GET') return this.#list(searchParams);
      if (name === undefined) throw new ApiError(400, 'ValidationException', 'a schedule name is required');
      const group = String(body.GroupName ?? searchParams.get('groupName') ?? 'default');
      const key = this.#key(group, name);
      const existing = this.#schedules.get(key);
      if (method === 'POST' || method === 'PUT') {
        if (method === 'POST' && existing)
          throw new ApiError(409, 'ConflictException', `Schedule ${name} already exists.`);
        if (method === 'PUT' && !existing)
          throw new ApiError(404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
        if (group !== 'default' && !this.#groups.has(group)) {
          throw new ApiError(404, 'ResourceNotFoundException', `Schedule group ${group} does not exist.`);
        }
        const schedule = this.#validate(name, group, body, existing?.CreationDate);
        if (existing) this.#timers.get(key)?.stop();
        this.#schedules.set(key, schedule);
        this.#arm(schedule);
        this.#save();
        return { ScheduleArn: this.#arn(group, name) };
      }
      if (!existing) throw new ApiError(404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
      if (method === 'GET') return { ...existing, Arn: this.#arn(group, name) };
      if (method === 'DELETE') {
        this.#remove(existing);
        this.#save();
        return {};
      }
    }
    throw new ApiError(404, 'ResourceNotFoundException', `${method} ${pathname} is not served by the local scheduler`);
  }

  #describeGroup(name: string) {
    const created = this.#groups.get(name) ?? 0;
    return {
      Arn: `arn:aws:scheduler:${this.#region}:000000000000:schedule-group/${name}`,
      Name: name,
      State: 'ACTIVE',
      CreationDate: created,
      LastModificationDate: created,
    };
  }

  #list(query: URLSearchParams) {
    const group = query.get('ScheduleGroup');
    const prefix = query.get('NamePrefix') ?? '';
    const state = query.get('State');
    const max = Number(query.get('MaxResults') ?? 100) || 100;
    const start = Number(query.get('NextToken') ?? 0) || 0;
    const all = [...this.#schedules.values()]
      .filter((s) => (group === null || s.GroupName === group) && s.Name.startsWith(prefix))
      .filter((s) => state === null || s.State === state)
      .sort((a, b) => (a.Name < b.Name ? -1 : 1));
    const page = all.slice(start, start + max);
    return {
      Schedules: page.map((s) => ({
        Arn: this.#arn(s.GroupName, s.Name),
        Name: s.Name,
        GroupName: s.GroupName,
        State: s.State,
        CreationDate: s.CreationDate,
        LastModificationDate: s.LastModificationDate,
        Target: { Arn: s.Target.Arn },
      })),
      ...(start + max < all.length ? { NextToken: String(start + max) } : {}),
    };
  }

  #validate(name: string, group: string, body: Record<string, unknown>, created: number | undefined): StoredSchedule {
    if (!/^[0-9a-zA-Z._-]{1,64}$/.test(name)) throw new ApiError(400, 'ValidationException', `invalid name ${name}`);
    const expression = String(body.ScheduleExpression ?? '');
    const target = body.Target as StoredSchedule['Target'] | undefined;
    if (!target?.Arn || !target.RoleArn)
      throw new ApiError(400, 'ValidationException', 'Target.Arn and Target.RoleArn are required');
    if (target.Arn !== SNS_PUBLISH) {
      throw new ApiError(
        400,
        'ValidationException',
        `the local scheduler runs ${SNS_PUBLISH} targets only, not ${target.Arn}`,
      );
    }
    const timezone =
      body.ScheduleExpressionTimezone === undefined ? undefined : String(body.ScheduleExpressionTimezone);
    this.#plan(expression, timezone); // throws for a bad expression
    const now = Date.now() / 1000;
    return {
      Name: name,
      GroupName: group,
      ScheduleExpression: expression,
      ...(timezone !== undefined ? { ScheduleExpressionTimezone: timezone } : {}),
      State: body.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      ...(body.Description !== undefined ? { Description: String(body.Description) } : {}),
      ...(typeof body.StartDate === 'number' ? { StartDate: body.StartDate } : {}),
      ...(typeof body.EndDate === 'number' ? { EndDate: body.EndDate } : {}),
      FlexibleTimeWindow: (body.FlexibleTimeWindow as StoredSchedule['FlexibleTimeWindow']) ?? { Mode: 'OFF' },
      Target: target,
      ActionAfterCompletion: body.ActionAfterCompletion === 'DELETE' ? 'DELETE' : 'NONE',
      CreationDate: created ?? now,
      LastModificationDate: now,
    };
  }

  /** The next due time after `after` (ms), or null: what an expression means here. */
  #plan(expression: string, timezone: string | undefined): (after: number, since: number) => number | null {
    const cron = /^cron\((.+)\)$/.exec(expression);
    if (cron) {
      const fields = (cron[1] as string).trim().split(/\s+/);
      if (fields.length !== 6) throw new ApiError(400, 'ValidationException', `invalid expression ${expression}`);
      // EventBridge's six fields (minute hour dom month dow year, Sunday = 1) as croner's seven
      // (seconds first, Sunday = 0 with alternativeWeekdays: Quartz numbering).
      const job = new Cron(`0 ${fields.join(' ')}`, {
        mode: '7-part',
        alternativeWeekdays: true,
        paused: true,
        ...(timezone ? { timezone } : {}),
      });
      return (after) => job.nextRun(new Date(after))?.getTime() ?? null;
    }
    const rate = /^rate\((\d+) (second|minute|hour|day)s?\)$/.exec(expression);
    if (rate) {
      const step = Number(rate[1]) * { second: 1, minute: 60, hour: 3600, day: 86_400 }[rate[2] as 'second'] * 1000;
      if (step <= 0) throw new ApiError(400, 'ValidationException', `invalid expression ${expression}`);
      return (after, since) => since + (Math.floor((after - since) / step) + 1) * step;
    }
    const at = /^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$/.exec(expression);
    if (at) {
      const when =
        timezone && timezone !== 'UTC'
          ? new Cron(at[1] as string, { timezone, paused: true }).nextRun(new Date(0))?.getTime()
          : Date.parse(`${at[1]}Z`);
      if (when === undefined || Number.isNaN(when))
        throw new ApiError(400, 'ValidationException', `invalid expression ${expression}`);
      return (after) => (when > after ? when : null);
    }
    throw new ApiError(400, 'ValidationException', `invalid expression ${expression}`);
  }

  #remove(schedule: StoredSchedule): void {
    const key = this.#key(schedule.GroupName, schedule.Name);
    this.#timers.get(key)?.stop();
    this.#timers.delete(key);
    this.#schedules.delete(key);
  }

  /** Sets a timer for the schedule's next due time; each firing sets the next. */
  #arm(schedule: StoredSchedule): void {
    const key = this.#key(schedule.GroupName, schedule.Name);
    if (this.#stopped || schedule.State !== 'ENABLED') return;
    const next = this.#plan(schedule.ScheduleExpression, schedule.ScheduleExpressionTimezone);
    const since = (schedule.StartDate ?? schedule.CreationDate) * 1000;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const schedule1 = (after: number) => {
      const due = next(after, since);
      if (due === null || stopped) return;
      if (schedule.EndDate !== undefined && due > schedule.EndDate * 1000) return;
      // Long waits in steps: a timer cannot wait more than about 24.8 days.
      const wait = Math.min(due - Date.now(), 2 ** 31 - 1);
      timer = setTimeout(
        () => {
          if (Date.now() < due) return schedule1(after);
          void this.#fire(schedule, due);
          if (schedule.ScheduleExpression.startsWith('at(')) {
            if (schedule.ActionAfterCompletion === 'DELETE') {
              this.#remove(schedule);
              this.#save();
            }
            return;
          }
          schedule1(due);
        },
        Math.max(0, wait),
      );
      timer.unref();
    };
    schedule1(Date.now());
    this.#timers.set(key, {
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
    });
  }

  async #fire(schedule: StoredSchedule, due: number): Promise<void> {
    const scheduledTime = new Date(Math.floor(due / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const firing: ScheduleFiring = {
      schedule: schedule.Name,
      group: schedule.GroupName,
      scheduledTime,
      firedAt: new Date().toISOString(),
      executionId: randomUUID().replace(/-/g, '').slice(0, 16),
    };
    try {
      const input = (schedule.Target.Input ?? '{}')
        .replaceAll('<aws.scheduler.scheduled-time>', scheduledTime)
        .replaceAll('<aws.scheduler.execution-id>', firing.executionId)
        .replaceAll('<aws.scheduler.schedule-arn>', this.#arn(schedule.GroupName, schedule.Name))
        .replaceAll('<aws.scheduler.attempt-number>', '0');
      const params = JSON.parse(input) as {
        TopicArn: string;
        Message: string;
        Subject?: string;
        MessageAttributes?: Record<string, MessageAttributeValue>;
        MessageGroupId?: string;
        MessageDeduplicationId?: string;
      };
      const published = await (this.#sns as SNSClient).send(new PublishCommand(params));
      if (published.MessageId !== undefined) firing.messageId = published.MessageId;
    } catch (error) {
      firing.error = (error as Error).message;
    }
    this.#firings.push(firing);
    if (this.#firings.length > MAX_FIRINGS) this.#firings.splice(0, this.#firings.length - MAX_FIRINGS);
    this.#save();
    for (const listener of this.#listeners) listener(firing);
  }

  #save(): void {
    const file = this.#file;
    if (!file) return;
    this.#saving = this.#saving
      .then(async () => {
        const state = {
          schedules: [...this.#schedules.values()],
          groups: [...this.#groups.entries()],
          firings: this.#firings,
        };
        await mkdir(dirname(file), { recursive: true });
        await writeFile(`${file}.tmp`, JSON.stringify(state));
        await rename(`${file}.tmp`, file);
      })
      .catch((error: unknown) => {
        process.stderr.write(`tq: could not save the scheduler's state: ${(error as Error).message}\n`);
      });
  }
}
