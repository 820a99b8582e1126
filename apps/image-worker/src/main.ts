// The image worker as a program: environment in, running worker out (the README lists the variables).
import { processImage } from '@tq/contracts';
import { envNumber, runWorkerApp } from '@tq/worker';
import { createImageWorker } from './worker.js';

await runWorkerApp({
  name: 'image-worker',
  task: processImage,
  create: ({ s3, worker }) =>
    createImageWorker({
      s3,
      maxBytes: envNumber(process.env, 'IMAGE_MAX_BYTES', { default: 50 * 1024 * 1024, min: 1, max: 2 ** 31 }),
      maxPixels: envNumber(process.env, 'IMAGE_MAX_PIXELS', { default: 100_000_000, min: 1, max: 2 ** 32 }),
      maxOutputPixels: envNumber(process.env, 'IMAGE_MAX_OUTPUT_PIXELS', {
        default: 100_000_000,
        min: 1,
        max: 2 ** 32,
      }),
      worker,
    }),
});
