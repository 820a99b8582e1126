/**
 * @tq/console: the web console of tq (`tq console`, and `tq up` prints its link): the queues and
 * their dead letters live, triage and redrive, a send form generated from each task's schema, and
 * a task's status by id.
 *
 * ```ts
 * import { startConsole } from '@tq/console';
 *
 * const console = await startConsole({ port: 8080 }); // TQ_ENDPOINT, TQ_PREFIX, ... from the environment
 * process.stdout.write(`${console.link}\n`);
 * ```
 *
 * @module
 */
export {
  type DeadLetter,
  type DeadLetterAction,
  type DeadLetterScan,
  DeadLetters,
  type OldestAgeLookup,
  oldestAgeLookup,
  type QueueCounts,
  QueueReader,
  readQueueCounts,
  type TaskQueueStats,
} from './queues.js';
export { type Console, type ConsoleOptions, startConsole } from './server.js';
