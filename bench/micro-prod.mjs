import { createProducer } from '@tq/producer-sdk';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
const N = Number(process.env.N ?? 200000);
const mode = process.argv[2];
const stub = { async send(command) { await new Promise((r) => setImmediate(r)); return { Successful: command.input.Entries.map((e) => ({ Id: e.Id, MessageId: 'x' })), Failed: [] }; }, destroy() {}, config: {} };
const payload = (i) => ({ to: [`user${i}@example.com`], subject: `Your receipt #${i}`, text: 'Thank you for your order. Your receipt is attached as a PDF; keep it for your records.' });
const ATTRIBUTES = { task: { DataType: 'String', StringValue: 'send_email' }, version: { DataType: 'Number', StringValue: '1' } };
const t0 = performance.now(); const c0 = process.cpuUsage();
if (mode === 'tq') {
  const tq = createProducer({ sqs: stub, queueUrls: { send_email: 'q' }, batchConcurrency: 8 });
  const items = Array.from({ length: N }, (_, i) => ({ task: 'send_email', payload: payload(i), options: { route: 'queue' } }));
  const r = await tq.sendBatch(items); if (r.some((x) => !x.ok)) throw new Error('fail');
} else {
  const bodies = Array.from({ length: N }, (_, i) => JSON.stringify({ id: crypto.randomUUID(), task: 'send_email', version: 1, createdAt: new Date().toISOString(), payload: payload(i) }));
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => { while (next < N) { const b = bodies.slice(next, next + 10); next += 10; await stub.send(new SendMessageBatchCommand({ QueueUrl: 'q', Entries: b.map((body, j) => ({ Id: String(j), MessageBody: body, MessageAttributes: ATTRIBUTES })) })); } }));
}
const c = process.cpuUsage(c0);
console.log(`${mode}: ${(N / ((performance.now() - t0) / 1000)).toFixed(0)} tasks/s, cpu ${((c.user + c.system) / N).toFixed(2)} us/task`);
process.exit(0);
