import { findQueuePair, lookupQueueUrl, type QueuePair } from '@tq/aws';
import { dlqName, queueName, type TaskRegistry } from '@tq/contracts';
import type { CliContext } from './context.js';
import { UsageError } from './errors.js';

/** A task's queue and its dead-letter queue, as provisioned. */
export interface TaskQueues extends QueuePair {
  task: string;
}

/** Throws `UsageError` for a task name the project does not define. */
export function checkTask(registry: TaskRegistry, task: string): void {
  if (!registry.get(task)) {
    throw new UsageError(`unknown task "${task}" (this project's tasks: ${registry.names().join(', ')})`);
  }
}

/** A queue's URL by name, or undefined when it does not exist. */
export function lookupQueue(context: CliContext, name: string): Promise<string | undefined> {
  return lookupQueueUrl(context.sqs, name);
}

/**
 * Finds a task's queue (`<prefix>-<task>`, or its `.fifo` variant) and its dead-letter queue
 * (the redrive policy's target, else `<prefix>-<task>-dlq`). Throws when they do not exist.
 */
export async function findTaskQueues(context: CliContext, task: string): Promise<TaskQueues> {
  checkTask(context.registry, task);
  const prefix = context.env.prefix;
  const pair = await findQueuePair(
    context.sqs,
    {
      standard: queueName(prefix, task),
      fifo: queueName(prefix, task, true),
      dlq: (fifo) => dlqName(prefix, task, fifo),
    },
    `run \`tq provision\` (prefix "${prefix}")`,
  );
  return { task, ...pair };
}
