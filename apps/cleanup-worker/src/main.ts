// The cleanup worker as a program: environment in, running worker out (the README lists the variables).
import { envNumber, runWorkerApp } from '@tq/worker';
import { createCleanupWorker } from './worker.js';

await runWorkerApp({
  name: 'cleanup-worker',
  defaults: { concurrency: 2, visibilityTimeoutSeconds: 300, handlerTimeoutMs: 60 * 60_000 },
  create: ({ s3, worker }) =>
    createCleanupWorker({
      s3,
      partSize: envNumber(process.env, 'CLEANUP_PART_SIZE', {
        default: 5 * 1024 * 1024,
        min: 5 * 1024 * 1024,
        max: 512 * 1024 * 1024,
      }),
      worker,
    }),
});
