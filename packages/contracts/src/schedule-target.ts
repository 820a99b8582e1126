// What an EventBridge Scheduler schedule of tq publishes: shared by the topology (recurring
// schedules), the producer (one-time sends beyond SQS's 15-minute delay) and the local scheduler.

import { AWS_LIMITS } from './aws-limits.js';

/** The EventBridge Scheduler universal target that publishes to SNS. */
export const SNS_PUBLISH_TARGET = 'arn:aws:scheduler:::aws-sdk:sns:publish';
/** EventBridge Scheduler's context attribute for the time a firing was scheduled for (ISO 8601, UTC). */
export const SCHEDULED_TIME = '<aws.scheduler.scheduled-time>';
/** Names of one-time schedules made by `producer.send(..., { at })` start with this. */
export const ONE_TIME_PREFIX = 'once-';
/** The most characters EventBridge Scheduler takes as a target's input. */
export const SCHEDULE_INPUT_MAX_CHARS = AWS_LIMITS.scheduler.maxInputChars;

/**
 * The target of a tq schedule: SNS `Publish` on the topic (universal target) with `message` as
 * the body and the `task` attribute the subscriptions filter on; retried for an hour.
 */
export function scheduleTarget(
  schedule: { task: string; message: string; attributes?: Record<string, { DataType: string; StringValue: string }> },
  options: { topicArn: string; roleArn: string },
) {
  return {
    Arn: SNS_PUBLISH_TARGET,
    RoleArn: options.roleArn,
    Input: JSON.stringify({
      TopicArn: options.topicArn,
      Message: schedule.message,
      MessageAttributes: schedule.attributes ?? { task: { DataType: 'String', StringValue: schedule.task } },
    }),
    RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
  };
}

/** `at(...)` for an instant, as EventBridge Scheduler writes it (UTC, whole seconds). */
export function atExpression(instant: Date): string {
  return `at(${instant.toISOString().slice(0, 19)})`;
}
