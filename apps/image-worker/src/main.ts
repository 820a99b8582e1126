// The image worker as a program: environment in, running worker out (the README lists the variables).
import { processImage } from '@tq/contracts';
import { envNumbers, runWorkerApp } from '@tq/worker';
import { createImageWorker, IMAGE_LIMITS } from './worker.js';

await runWorkerApp({
  name: 'image-worker',
  task: processImage,
  create: ({ s3, worker }) =>
    createImageWorker({
      s3,
      ...envNumbers(process.env, IMAGE_LIMITS),
      worker,
    }),
});
