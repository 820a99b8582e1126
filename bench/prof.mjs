// temporary profiling harness (not committed)
import { startEndpointProcess } from '@tq/testing';
import { createQueues, preload } from './dist/lib.js';
import { createTask, encodeMessageBody } from '@tq/contracts';
import { spawn } from 'node:child_process';
const ep = await startEndpointProcess();
const N = Number(process.env.N ?? 20000);
const mode = process.argv[2] ?? 'tq';
const runs = Number(process.env.RUNS ?? 1);
for (let r = 0; r < runs; r++) for (const m of mode.split(',')) {
  const { queueUrl, dlqUrl } = await createQueues(ep.clientConfig, 'prof');
  const bodies = Array.from({ length: N }, (_, i) => encodeMessageBody(createTask('send_email', { to: [`u${i}@example.com`], subject: `n${i}`, text: 'x' })));
  await preload(ep.clientConfig, queueUrl, bodies);
  const child = spawn(process.execPath, [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), 'prof-child.mjs', m, JSON.stringify({ clientConfig: ep.clientConfig, queueUrl, dlqUrl, N })], { stdio: 'inherit', env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
  await new Promise((res) => child.on('exit', res));
}
await ep.stop();
