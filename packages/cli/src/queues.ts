import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { classifyAwsError, parseRedrivePolicy } from '@tq/aws';
import { dlqName, queueName, type TaskRegistry } from '@tq/contracts';
import type { CliContext } from './context.js';
import { UsageError } from './errors.js';

/** A task's queue and its dead-letter queue, as provisioned. */
export interface TaskQueues {
  task: string;
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
}

/** Throws `UsageError` for a task name the project does not define. */
export function checkTask(registry: TaskRegistry, task: string): void {
  if (!registry.get(task)) {
    throw new UsageError(`unknown task "${task}" (this project's tasks: ${registry.names().join(', ')})`);
  }
}

/** A queue's URL by name, or undefined when it does not exist. */
export async function lookupQueue(context: CliContext, name: string): Promise<string | undefined> {
  try {
    return (await context.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (classifyAwsError(error) === 'not-found') return undefined;
    throw error;
  }
}

async function arnOf(context: CliContext, url: string): Promise<string> {
  const out = await context.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return out.Attributes?.QueueArn ?? '';
}

/**
 * Finds a task's queue (`<prefix>-<task>`, or its `.fifo` variant) and its dead-letter queue
 * (the redrive policy's target, else `<prefix>-<task>-dlq`). Throws when they do not exist.
 */
export async function findTaskQueues(context: CliContext, task: string): Promise<TaskQueues> {
  checkTask(context.registry, task);
  const prefix = context.env.prefix;
  let fifo = false;
  let queueUrl = await lookupQueue(context, queueName(prefix, task));
  if (!queueUrl) {
    queueUrl = await lookupQueue(context, queueName(prefix, task, true));
    fifo = queueUrl !== undefined;
  }
  if (!queueUrl) {
    throw new Error(`queue ${queueName(prefix, task)} does not exist: run \`tq provision\` (prefix "${prefix}")`);
  }
  const attributes = await context.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'RedrivePolicy'] }),
  );
  const policy = parseRedrivePolicy(attributes.Attributes?.RedrivePolicy);
  const target = policy?.deadLetterTargetArn;
  const dlq = policy?.deadLetterQueue.name ?? dlqName(prefix, task, fifo);
  const dlqUrl = await lookupQueue(context, dlq);
  if (!dlqUrl) throw new Error(`dead-letter queue ${dlq} does not exist: run \`tq provision\``);
  return {
    task,
    queueUrl,
    queueArn: attributes.Attributes?.QueueArn ?? '',
    dlqUrl,
    dlqArn: target ?? (await arnOf(context, dlqUrl)),
  };
}
