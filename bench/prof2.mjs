import { startEndpointProcess } from '@tq/testing';
import { runInChild } from './dist/lib.js';
import { consumerNoop } from './dist/scenarios/consumer.js';
const ep = await startEndpointProcess();
const ctx = { endpoint: ep.endpoint, clientConfig: ep.clientConfig, quick: false };
const order = (process.argv[2] ?? 'tq worker,raw receive/delete').split(',');
for (let r = 0; r < Number(process.env.RUNS ?? 2); r++) for (const c of order) {
  const config = await consumerNoop.prepare(ctx, c);
  if (process.env.MINE) { const { spawn } = await import('node:child_process');
    const m = c === 'tq worker' ? 'tq' : 'raw';
    const child = spawn(process.execPath, [process.env.CHILD ?? 'prof-child.mjs', m, JSON.stringify({ ...config, N: config.count })], { stdio: 'inherit', env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
    await new Promise((res) => child.on('exit', res));
  } else { const m = await runInChild('consumer-noop', c, config); console.log(c, m.value.toFixed(0)); }
}
await ep.stop();
