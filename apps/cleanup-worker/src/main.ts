// The cleanup worker as a program: environment in, running worker out (the README lists the variables).
import { cleanupData } from '@tq/contracts';
import { envNumber, envNumbers, runWorkerApp } from '@tq/worker';
import { CLEANUP_LIMITS, createCleanupWorker } from './worker.js';

await runWorkerApp({
  name: 'cleanup-worker',
  task: cleanupData,
  create: ({ s3, worker }) =>
    createCleanupWorker({
      s3,
      partSize: envNumber(process.env, 'CLEANUP_PART_SIZE', {
        default: 5 * 1024 * 1024,
        min: 5 * 1024 * 1024,
        max: 512 * 1024 * 1024,
      }),
      limits: envNumbers(process.env, CLEANUP_LIMITS),
      worker,
    }),
});
