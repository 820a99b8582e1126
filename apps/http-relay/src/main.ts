// The HTTP relay as a program: environment in, running relay out (the README lists the variables).
import { runWorkerApp } from '@tq/worker';
import { readRelayConfig } from './config.js';
import { createRelayWorker } from './relay.js';

await runWorkerApp({
  name: 'http-relay',
  defaults: {},
  create: ({ worker }) => {
    const config = readRelayConfig();
    const { concurrency: _concurrency, ...runtime } = worker;
    return createRelayWorker({ ...config, worker: runtime });
  },
});
