import type { Logger } from 'pino';

/** A second stop signal aborts running handlers only when it comes at least this long after the first. */
const SIGNAL_REPEAT_MS = 1000;

/**
 * Listens for SIGTERM and SIGINT: the first asks the worker to stop (finish running tasks), a
 * second one at least a second later aborts running handlers. Returns the function that stops
 * listening.
 */
export function onStopSignals(
  logger: Logger,
  worker: { stop(): void; abort(signal: NodeJS.Signals): void },
): () => void {
  let firstSignalAt = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (firstSignalAt === 0) {
      firstSignalAt = Date.now();
      logger.info({ signal }, 'signal received: stopping (send it again to abort running tasks)');
      worker.stop();
    } else if (Date.now() - firstSignalAt >= SIGNAL_REPEAT_MS) {
      logger.warn({ signal }, 'second signal: aborting running tasks');
      worker.abort(signal);
    }
    // A signal right after the first is the same request arriving twice (Ctrl-C reaches the
    // whole process group while a supervisor forwards SIGTERM), not a second request.
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
