import {
  AWS_LIMITS,
  builtinHint,
  registry as builtinRegistry,
  checkQueueSettings,
  copyQueueName,
  dlqName,
  type QueueSettings,
  queueName,
  type TaskRegistry,
  topicName,
  type Violation,
} from '@tq/contracts';
import { TopologyError } from './errors.js';
import type { ScheduleDefinition } from './schedules.js';

/** Per-task overrides of the registry's queue defaults. */
export interface TaskQueueOptions extends Partial<QueueSettings> {
  /** A FIFO queue (`<prefix>-<task>.fifo`), fed by direct sends only: a standard topic cannot deliver to it. */
  fifo?: boolean;
}

/** An extra queue subscribed to the topic, e.g. an audit queue. */
export interface ExtraSubscriber {
  /** Queue name without the prefix: `audit` becomes `<prefix>-audit`. */
  name: string;
  /** Only these tasks (default: every task, unfiltered). */
  tasks?: string[];
  messageRetentionSeconds?: number;
}

/**
 * A second consumer of some task types, such as the ActiveMQ bridge: each of its tasks gets a
 * copy queue `<prefix>-<task>-<consumer>` with its own DLQ, with the task queue's settings,
 * subscribed to the topic with the task's filter, so the consumer receives every task the
 * workers receive without taking any from them.
 */
export interface TaskCopies {
  /** Lowercase letters, digits and `-`: `activemq` gives `<prefix>-<task>-activemq`. */
  consumer: string;
  /** Task types copied (default: every provisioned task). */
  tasks?: readonly string[];
}

/** What `defineTopology` takes. */
export interface TopologyOptions {
  /** Name prefix of every resource (default `tq`). */
  prefix?: string;
  /** The artifacts bucket (default `<prefix>-artifacts`); `false` to manage none. */
  bucket?: string | false;
  /** Task types to provision (default: the built-in registry). */
  registry?: TaskRegistry;
  /** Only these tasks (default: every task in the registry). */
  tasks?: string[];
  /** Per-task queue overrides. */
  queues?: Record<string, TaskQueueOptions>;
  /** Retention of the dead-letter queues (default 14 days, AWS's maximum). */
  dlqRetentionSeconds?: number;
  subscribers?: ExtraSubscriber[];
  /** Copy queues for second consumers (the ActiveMQ bridge). */
  copies?: TaskCopies[];
  /** Recurring and one-time tasks (`defineSchedule`): EventBridge Scheduler on AWS, `tq up`'s scheduler locally. */
  schedules?: readonly ScheduleDefinition[];
}

/** One queue as it should exist. Attribute values are the strings SQS reports. */
export interface QueueSpec {
  readonly name: string;
  readonly role: 'task' | 'dlq' | 'subscriber';
  readonly task: string | undefined;
  /** Set on a copy queue and its DLQ: whose copy it is (`activemq`). */
  readonly consumer?: string;
  readonly fifo: boolean;
  /** Plain attributes (not RedrivePolicy/Policy, which need ARNs). */
  readonly attributes: Readonly<Record<string, string>>;
  /** The DLQ's name, for task queues. */
  readonly deadLetterQueue: string | undefined;
  readonly maxReceiveCount: number | undefined;
  /** Whether the topic delivers to it (and so it needs the queue policy and a subscription). */
  readonly subscribed: boolean;
  /** The `task` filter of its subscription; undefined means unfiltered. */
  readonly filterTasks: readonly string[] | undefined;
}

/** The whole desired state. */
export interface DesiredTopology {
  readonly prefix: string;
  readonly topic: string;
  readonly bucket: string | undefined;
  readonly queues: readonly QueueSpec[];
  /** The schedules (`defineSchedule`), in the order given. */
  readonly schedules: readonly ScheduleDefinition[];
  /** The task types it was computed from: their definitions carry each task's facts (worker, scaling, grants). */
  readonly registry: TaskRegistry;
}

/** DLQs keep their messages as long as SQS allows: time to look and redrive. */
const DEFAULT_DLQ_RETENTION = AWS_LIMITS.sqs.maxRetentionSeconds;

/** A task queue (subscribed unless FIFO) and its dead-letter queue, DLQ first. */
function queuePair(
  task: string,
  dlq: string,
  name: string,
  fifo: boolean,
  settings: QueueSettings,
  dlqRetention: string,
): QueueSpec[] {
  const fifoAttributes: Record<string, string> = fifo ? { FifoQueue: 'true' } : {};
  return [
    {
      name: dlq,
      role: 'dlq',
      task,
      fifo,
      attributes: { ...fifoAttributes, MessageRetentionPeriod: dlqRetention },
      deadLetterQueue: undefined,
      maxReceiveCount: undefined,
      subscribed: false,
      filterTasks: undefined,
    },
    {
      name,
      role: 'task',
      task,
      fifo,
      attributes: {
        ...fifoAttributes,
        VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(settings.messageRetentionSeconds),
        DelaySeconds: String(settings.delaySeconds),
        ReceiveMessageWaitTimeSeconds: String(settings.receiveWaitTimeSeconds),
      },
      deadLetterQueue: dlq,
      maxReceiveCount: settings.maxReceiveCount,
      // SNS standard topics cannot deliver to FIFO queues; FIFO tasks are sent to the queue directly.
      subscribed: !fifo,
      filterTasks: [task],
    },
  ];
}

/**
 * Computes the desired state from the registry and overrides, checking every setting against
 * AWS's ranges. Throws `TopologyError` (`INVALID_SETTINGS`) listing each bad setting with its
 * value and range.
 */
export function defineTopology(options: TopologyOptions = {}): DesiredTopology {
  const prefix = options.prefix ?? 'tq';
  const registry = options.registry ?? builtinRegistry;
  const violations: Violation[] = [];
  if (!/^[a-zA-Z0-9_-]{1,40}$/.test(prefix)) {
    violations.push({ path: '/prefix', message: `prefix is "${prefix}", must be 1-40 letters, digits, - or _` });
  }
  const tasks = options.tasks ?? registry.names();
  for (const task of [...tasks, ...Object.keys(options.queues ?? {})]) {
    if (!registry.has(task)) {
      violations.push({ path: `/queues/${task}`, message: `unknown task "${task}"${builtinHint(options.registry)}` });
    }
  }
  const queues: QueueSpec[] = [];
  const dlqRetention = String(options.dlqRetentionSeconds ?? DEFAULT_DLQ_RETENTION);
  for (const task of tasks) {
    const definition = registry.get(task);
    if (!definition) continue;
    // FIFO as the definition says (older definitions have no `fifo`), unless overridden.
    const { fifo = definition.fifo ?? false, ...overrides } = options.queues?.[task] ?? {};
    const settings = { ...definition.queue, ...overrides };
    violations.push(...checkQueueSettings(settings, `/queues/${task}`));
    queues.push(
      ...queuePair(task, dlqName(prefix, task, fifo), queueName(prefix, task, fifo), fifo, settings, dlqRetention),
    );
  }
  for (const [index, copy] of (options.copies ?? []).entries()) {
    if (!/^[a-z0-9-]{1,20}$/.test(copy.consumer)) {
      violations.push({
        path: `/copies/${index}/consumer`,
        message: `consumer is "${copy.consumer}", must be 1-20 lowercase letters, digits or -`,
      });
    }
    for (const task of copy.tasks ?? tasks) {
      const definition = registry.get(task);
      if (!definition || !tasks.includes(task)) {
        violations.push({ path: `/copies/${index}/tasks`, message: `"${task}" is not a provisioned task` });
        continue;
      }
      const { fifo = definition.fifo ?? false, ...overrides } = options.queues?.[task] ?? {};
      if (fifo) {
        violations.push({
          path: `/copies/${index}/tasks`,
          message: `${task} is a FIFO task: the topic cannot deliver to FIFO queues, so ${copy.consumer} cannot have a copy of it`,
        });
        continue;
      }
      const name = copyQueueName(prefix, task, copy.consumer);
      const pair = queuePair(task, `${name}-dlq`, name, false, { ...definition.queue, ...overrides }, dlqRetention);
      queues.push(...pair.map((queue) => ({ ...queue, consumer: copy.consumer })));
    }
  }
  if (options.dlqRetentionSeconds !== undefined) {
    violations.push(
      ...checkQueueSettings({ messageRetentionSeconds: options.dlqRetentionSeconds }, '/dlq').map((v) => ({
        path: '/dlqRetentionSeconds',
        message: v.message.replace('messageRetentionSeconds', 'dlqRetentionSeconds'),
      })),
    );
  }
  for (const [index, subscriber] of (options.subscribers ?? []).entries()) {
    for (const task of subscriber.tasks ?? []) {
      if (!registry.has(task))
        violations.push({ path: `/subscribers/${index}/tasks`, message: `unknown task "${task}"` });
    }
    if (subscriber.messageRetentionSeconds !== undefined) {
      violations.push(
        ...checkQueueSettings({ messageRetentionSeconds: subscriber.messageRetentionSeconds }, `/subscribers/${index}`),
      );
    }
    queues.push({
      name: `${prefix}-${subscriber.name}`,
      role: 'subscriber',
      task: undefined,
      fifo: false,
      attributes: { MessageRetentionPeriod: String(subscriber.messageRetentionSeconds ?? DEFAULT_DLQ_RETENTION) },
      deadLetterQueue: undefined,
      maxReceiveCount: undefined,
      subscribed: true,
      filterTasks: subscriber.tasks,
    });
  }
  const names = new Set<string>();
  for (const queue of queues) {
    if (queue.name.length > 80)
      violations.push({ path: `/queues/${queue.name}`, message: 'queue name longer than 80 characters' });
    if (names.has(queue.name)) violations.push({ path: `/queues/${queue.name}`, message: 'queue name used twice' });
    names.add(queue.name);
  }
  const scheduleNames = new Set<string>();
  for (const schedule of options.schedules ?? []) {
    const path = `/schedules/${schedule.name}`;
    if (scheduleNames.has(schedule.name)) violations.push({ path, message: 'schedule name used twice' });
    scheduleNames.add(schedule.name);
    if (!tasks.includes(schedule.task)) {
      violations.push({ path, message: `task "${schedule.task}" is not provisioned here` });
    } else if (options.queues?.[schedule.task]?.fifo ?? registry.get(schedule.task)?.fifo) {
      violations.push({
        path,
        message: `${schedule.task} is a FIFO task: schedules publish to the topic, which cannot deliver to FIFO queues`,
      });
    }
  }
  if (violations.length > 0) throw new TopologyError('INVALID_SETTINGS', 'invalid topology settings', { violations });
  const bucket =
    options.bucket === false ? undefined : (options.bucket ?? `${prefix.toLowerCase().replace(/_/g, '-')}-artifacts`);
  return { prefix, topic: topicName(prefix), bucket, queues, schedules: [...(options.schedules ?? [])], registry };
}
