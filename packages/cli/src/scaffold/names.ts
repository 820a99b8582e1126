import { TASK_NAME_PATTERN } from '@tq/contracts';
import { UsageError } from '../errors.js';

/** The names one task type goes by in a scaffolded project. */
export interface TaskNames {
  /** The task type: `send_invoice`. */
  task: string;
  /** Its definition's identifier: `sendInvoice`. */
  identifier: string;
  /** Its files and folder: `send-invoice`. */
  file: string;
  /** Its worker app: `send-invoice-worker`. */
  app: string;
}

/** Checks a task name (`UsageError` naming the rule) and derives the names of its files. */
export function taskNames(task: string): TaskNames {
  if (!new RegExp(TASK_NAME_PATTERN).test(task) || task.endsWith('_') || task.includes('__')) {
    throw new UsageError(
      `task name "${task}" must be lowercase snake_case, starting with a letter (such as send_invoice): it names queues`,
    );
  }
  const identifier = task.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
  const file = task.replace(/_/g, '-');
  return { task, identifier, file, app: `${file}-worker` };
}
