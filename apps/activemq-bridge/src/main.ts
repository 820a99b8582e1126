// The ActiveMQ bridge as a program: environment in, running bridge out (the README lists the variables).
import { readEnvironment } from '@tq/contracts';
import { statusEnabled } from '@tq/status';
import { loadProject, readWorkerEnvironment } from '@tq/worker';
import { pino } from 'pino';
import { createBridge } from './bridge.js';
import { readBridgeConfig } from './config.js';

const logger = pino({ name: 'activemq-bridge', level: process.env.LOG_LEVEL ?? 'info' });
// tq pins AWS SDK releases that run on Node 20; their warning is about later ones.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  const env = readEnvironment();
  // The project's tasks: tq.config.ts from TQ_CONFIG, else from the working directory up.
  const { config: project } = await loadProject();
  const config = readBridgeConfig(env, project.registry);
  const { http, concurrency: _concurrency, ...runtime } = readWorkerEnvironment(process.env, { httpPort: 8080 });
  const bridge = createBridge({
    config,
    env,
    logger,
    http,
    worker: { ...runtime, status: statusEnabled(true) },
  });
  await bridge.start();
} catch (error) {
  logger.fatal({ err: error }, (error as Error).message);
  process.exitCode = 1;
}
