// temporary: tq per-message overhead on an instant in-memory SQS stub
import { createWorker } from '@tq/worker';
import { createTask, encodeMessageBody } from '@tq/contracts';
import { pino } from 'pino';
const N = Number(process.env.N ?? 200000);
const mode = process.argv[2];
let next = 0;
const body = encodeMessageBody(createTask('send_email', { to: ['u@example.com'], subject: 's', text: 'x' }));
const stub = {
  async send(command) {
    const name = command.constructor.name;
    const input = command.input;
    if (name === 'ReceiveMessageCommand') {
      const n = Math.min(input.MaxNumberOfMessages, N - next);
      if (n <= 0) { await new Promise((r) => setTimeout(r, 50)); return { Messages: [] }; }
      const Messages = [];
      for (let i = 0; i < n; i++, next++) Messages.push({ MessageId: `m${next}`, ReceiptHandle: `r${next}`, Body: JSON.parse(JSON.stringify(body)), Attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000', ApproximateFirstReceiveTimestamp: '1700000000000' }, MessageAttributes: { task: { DataType: 'String', StringValue: 'send_email' } } });
      await new Promise((r) => setImmediate(r));
      return { Messages };
    }
    if (name === 'DeleteMessageBatchCommand') { await new Promise((r) => setImmediate(r)); return { Successful: input.Entries.map((e) => ({ Id: e.Id })), Failed: [] }; }
    if (name === 'GetQueueAttributesCommand') return { Attributes: {} };
    throw new Error(name);
  },
  destroy() {},
};
let handled = 0; let resolveDone; const done = new Promise((r) => (resolveDone = r));
const hit = () => { if (++handled === N) resolveDone(); };
const t0 = performance.now(); const c0 = process.cpuUsage();
if (mode === 'tq') {
  const worker = createWorker({ task: 'send_email', sqs: stub, queueUrl: 'q', deadLetterQueueUrl: 'dlq', concurrency: 50, waitTimeSeconds: 1, logger: pino({ level: 'silent' }), handleSignals: false, handler: async () => {} });
  worker.on('succeeded', hit);
  await worker.start(); await done; report(); await worker.stop();
} else {
  const { DeleteMessageBatchCommand, ReceiveMessageCommand } = await import('@aws-sdk/client-sqs');
  let finished = false; done.then(() => (finished = true));
  await Promise.all(Array.from({ length: 5 }, async () => {
    while (!finished) {
      const out = await stub.send(new ReceiveMessageCommand({ QueueUrl: 'q', MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const ms = out.Messages ?? []; if (!ms.length) continue;
      await Promise.all(ms.map(() => Promise.resolve()));
      await stub.send(new DeleteMessageBatchCommand({ QueueUrl: 'q', Entries: ms.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
      for (const _ of ms) hit();
    }
  }));
  report();
}
function report() { const c = process.cpuUsage(c0); console.log(`${mode}: ${(N / ((performance.now() - t0) / 1000)).toFixed(0)} msgs/s, cpu ${((c.user + c.system) / N).toFixed(2)} us/msg`); }
process.exit(0);
