// The HTTP relay as a program: environment in, running relay out (the README lists the variables).
// Its task is one of the project's (tq.config.ts from TQ_CONFIG, else from the working directory up).
import { loadProject, runWorkerApp } from '@tq/worker';
import { readRelayConfig } from './config.js';
import { createRelayWorker } from './relay.js';

await runWorkerApp({
  name: 'http-relay',
  defaults: {},
  create: async ({ worker }) => {
    const { config: project } = await loadProject();
    const config = readRelayConfig(project.registry);
    const { concurrency: _concurrency, ...runtime } = worker;
    return createRelayWorker({ ...config, worker: { ...runtime, registry: config.registry } });
  },
});
