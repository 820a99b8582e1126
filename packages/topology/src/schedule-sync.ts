import {
  ConflictException,
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  ListSchedulesCommand,
  ResourceNotFoundException,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { ONE_TIME_PREFIX, scheduleTarget } from '@tq/contracts';
import { TopologyError } from './errors.js';
import { type ScheduleDefinition, scheduleMessage } from './schedules.js';

/** What `syncSchedules` takes. */
export interface ScheduleSyncOptions {
  scheduler: SchedulerClient;
  /** The schedule group (tq uses the prefix); created when missing. */
  group: string;
  topicArn: string;
  /** The role EventBridge Scheduler assumes to publish (`TQ_SCHEDULER_ROLE_ARN`; any ARN locally). */
  roleArn: string;
  schedules: readonly ScheduleDefinition[];
  /** Also delete schedules of the group that are not defined (one-time sends are kept). Default false. */
  prune?: boolean;
  /** List the changes without making them. */
  dryRun?: boolean;
}

/** One change `syncSchedules` made (or would make). */
export interface ScheduleChange {
  action: 'create' | 'update' | 'delete' | 'create-group';
  name: string;
}

/** The CreateSchedule/UpdateSchedule request for a definition. */
export function scheduleRequest(
  schedule: ScheduleDefinition,
  options: Omit<ScheduleSyncOptions, 'scheduler' | 'schedules'>,
) {
  return {
    Name: schedule.name,
    GroupName: options.group,
    ScheduleExpression: schedule.expression,
    ScheduleExpressionTimezone: schedule.expressionTimezone,
    State: schedule.enabled ? ('ENABLED' as const) : ('DISABLED' as const),
    ...(schedule.description !== undefined ? { Description: schedule.description } : {}),
    FlexibleTimeWindow: { Mode: 'OFF' as const },
    Target: scheduleTarget(
      { task: schedule.task, message: scheduleMessage(schedule) },
      { topicArn: options.topicArn, roleArn: options.roleArn },
    ),
    ActionAfterCompletion: schedule.kind === 'at' ? ('DELETE' as const) : ('NONE' as const),
  };
}

function same(current: GetScheduleCommandOutput, wanted: ReturnType<typeof scheduleRequest>): boolean {
  return (
    current.ScheduleExpression === wanted.ScheduleExpression &&
    (current.ScheduleExpressionTimezone ?? 'UTC') === wanted.ScheduleExpressionTimezone &&
    current.State === wanted.State &&
    (current.Description ?? undefined) === (wanted.Description ?? undefined) &&
    current.Target?.Arn === wanted.Target.Arn &&
    current.Target?.RoleArn === wanted.Target.RoleArn &&
    current.Target?.Input === wanted.Target.Input &&
    (current.ActionAfterCompletion ?? 'NONE') === wanted.ActionAfterCompletion
  );
}

/** Every schedule name of a group. */
export async function listScheduleNames(scheduler: SchedulerClient, group: string): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await scheduler.send(
      new ListSchedulesCommand({ GroupName: group, ...(token ? { NextToken: token } : {}) }),
    );
    for (const summary of page.Schedules ?? []) if (summary.Name) names.push(summary.Name);
    token = page.NextToken;
  } while (token);
  return names;
}

/**
 * Converges the EventBridge Scheduler schedules of `group` with the definitions, as `tq up` does
 * locally and `tq provision --schedules` on AWS (the CDK constructs describe the same schedules
 * for a deployment): creates the group when missing, creates and updates schedules, and with
 * `prune` deletes the group's other schedules except one-time sends. Throws `TopologyError`
 * (`AWS_ERROR`) with the failing call's error as `cause`.
 */
export async function syncSchedules(options: ScheduleSyncOptions): Promise<ScheduleChange[]> {
  const { scheduler, group } = options;
  const changes: ScheduleChange[] = [];
  try {
    let existing: string[];
    try {
      existing = await listScheduleNames(scheduler, group);
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      existing = [];
    }
    if (existing.length === 0) {
      changes.push({ action: 'create-group', name: group });
      if (!options.dryRun) {
        try {
          await scheduler.send(new CreateScheduleGroupCommand({ Name: group }));
        } catch (error) {
          if (!(error instanceof ConflictException)) throw error;
          changes.pop();
        }
      } else changes.pop();
    }
    for (const schedule of options.schedules) {
      const wanted = scheduleRequest(schedule, options);
      if (!existing.includes(schedule.name)) {
        changes.push({ action: 'create', name: schedule.name });
        if (!options.dryRun) await scheduler.send(new CreateScheduleCommand(wanted));
        continue;
      }
      const current = await scheduler.send(new GetScheduleCommand({ Name: schedule.name, GroupName: group }));
      if (same(current, wanted)) continue;
      changes.push({ action: 'update', name: schedule.name });
      if (!options.dryRun) await scheduler.send(new UpdateScheduleCommand(wanted));
    }
    if (options.prune) {
      const wantedNames = new Set(options.schedules.map((schedule) => schedule.name));
      for (const name of existing) {
        if (wantedNames.has(name) || name.startsWith(ONE_TIME_PREFIX)) continue;
        changes.push({ action: 'delete', name });
        if (!options.dryRun) await scheduler.send(new DeleteScheduleCommand({ Name: name, GroupName: group }));
      }
    }
  } catch (error) {
    throw new TopologyError(
      'AWS_ERROR',
      `could not sync the schedules of group ${group}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return changes;
}
