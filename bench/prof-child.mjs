import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createWorker } from '@tq/worker';
import { pino } from 'pino';
const [mode, cfg] = process.argv.slice(2);
const { clientConfig, queueUrl, dlqUrl, N } = JSON.parse(cfg);
const sqs = new SQSClient(clientConfig);
const calls = {};
sqs.middlewareStack.add((next, ctx) => async (args) => { const k = ctx.commandName; calls[k] = (calls[k] ?? 0) + 1; if (k === 'ReceiveMessageCommand') { const r = await next(args); calls.msgs = (calls.msgs ?? 0) + (r.output.Messages?.length ?? 0); calls.asked = (calls.asked ?? 0) + args.input.MaxNumberOfMessages; return r; } if (k === 'DeleteMessageBatchCommand') calls.deleted = (calls.deleted ?? 0) + args.input.Entries.length; return next(args); }, { step: 'initialize' });
let handled = 0; let resolveDone; const done = new Promise((r) => (resolveDone = r));
const hit = () => { if (++handled === N) resolveDone(); };
const t0 = performance.now(); const c0 = process.cpuUsage();
if (mode === 'tq') {
  const worker = createWorker({ task: 'send_email', sqs, queueUrl, deadLetterQueueUrl: dlqUrl, concurrency: Number(process.env.CONC ?? 50), ...(process.env.POLLERS ? { pollers: Number(process.env.POLLERS) } : {}), waitTimeSeconds: 1, logger: pino({ level: 'silent' }), handleSignals: false, handler: async () => {} });
  worker.on('succeeded', hit);
  await worker.start(); await done;
  report(); await worker.stop();
} else {
  let finished = false; done.then(() => (finished = true));
  const attrs = mode === 'raw-attrs' ? { MessageSystemAttributeNames: ['ApproximateReceiveCount','ApproximateFirstReceiveTimestamp','SentTimestamp','MessageGroupId'], MessageAttributeNames: ['All'] } : {};
  await Promise.all(Array.from({ length: 5 }, async () => {
    while (!finished) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, ...attrs }));
      const ms = out.Messages ?? []; if (!ms.length) continue;
      await Promise.all(ms.map(() => Promise.resolve()));
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: ms.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
      for (const _ of ms) hit();
    }
  }));
  report();
}
sqs.destroy();
function report() { const s = (performance.now() - t0) / 1000; const c = process.cpuUsage(c0); console.log(`${mode}: ${(N / s).toFixed(0)} msgs/s, cpu ${((c.user + c.system) / 1000 / N).toFixed(3)} ms/msg`, JSON.stringify(calls)); }
