// The cleanup worker as a program: environment in, running worker out (the README lists the variables).
import { cleanupData } from '@tq/contracts';
import { envNumber, runWorkerApp } from '@tq/worker';
import { createCleanupWorker, DEFAULT_CLEANUP_LIMITS } from './worker.js';

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
      limits: {
        maxBytes: envNumber(process.env, 'CLEANUP_MAX_BYTES', {
          default: DEFAULT_CLEANUP_LIMITS.maxBytes,
          min: 1,
          max: 5 * 1024 ** 4,
        }),
        maxRows: envNumber(process.env, 'CLEANUP_MAX_ROWS', {
          default: DEFAULT_CLEANUP_LIMITS.maxRows,
          min: 1,
          max: 1_000_000_000,
        }),
        maxColumns: envNumber(process.env, 'CLEANUP_MAX_COLUMNS', {
          default: DEFAULT_CLEANUP_LIMITS.maxColumns,
          min: 1,
          max: 100_000,
        }),
      },
      worker,
    }),
});
