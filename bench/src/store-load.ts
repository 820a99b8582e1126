// `node store-load.js <endpoint> <table>`, with an IPC channel: puts into the status table the
// items a status-recording worker would (one per task, one index item per call of 24 tasks, in
// BatchWriteItem calls of 25, 8 at once), following the task count its parent sends, and answers
// `done` when the parent's last count is written. The consumer bench's "store load only"
// contender runs a worker that records nothing beside it: the store's CPU on the shared cores
// without any of the worker's cost of recording. Requests are built with JSON.stringify and sent
// with node:http (a fixed signature the local store checks only for form), so this process costs
// far less than the store it loads.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';

const [endpoint, table] = process.argv.slice(2);
if (!endpoint || !table || !process.send) {
  console.error('usage: node store-load.js <endpoint> <table> (with an IPC channel)');
  process.exit(2);
}
const url = new URL(endpoint);
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const TASKS_PER_CALL = 24;
const CONCURRENCY = 8;

let target = 0;
let ended = false;
let queued = 0;
let inFlight = 0;
let sequence = 0;

/** One task's item as the status writer makes it for a task received, run and succeeded. */
function taskItem(now: Date) {
  const at = now.toISOString();
  sequence += 1;
  const data = {
    task: 'send_email',
    state: 'succeeded',
    attempt: 1,
    events: [
      { state: 'received', attempt: 1, at },
      { state: 'running', attempt: 1, at },
      { state: 'succeeded', attempt: 1, at, durationMs: 0 },
    ],
    finishedAt: at,
    durationMs: 0,
  };
  return {
    id: { S: randomUUID() },
    step: { S: `00001#${at}#load-${sequence}` },
    data: { S: JSON.stringify(data) },
    expiresAt: { N: String(Math.floor(now.getTime() / 1000) + 14 * 24 * 3600) },
  };
}

function body(tasks: number): string {
  const now = new Date();
  const items = Array.from({ length: tasks }, () => taskItem(now));
  const entries = items.map((item) => ({ id: item.id.S, state: 'succeeded', finishedAt: now.toISOString() }));
  sequence += 1;
  const index = {
    id: { S: '#recent#send_email' },
    step: { S: `${now.toISOString()}#load-${sequence}` },
    data: { S: JSON.stringify(entries) },
    expiresAt: items[0]?.expiresAt ?? { N: '0' },
  };
  return JSON.stringify({
    RequestItems: { [table as string]: [...items, index].map((Item) => ({ PutRequest: { Item } })) },
  });
}

function post(payload: string): Promise<void> {
  const date = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'content-length': Buffer.byteLength(payload),
          'x-amz-target': 'DynamoDB_20120810.BatchWriteItem',
          'x-amz-date': date,
          authorization: `AWS4-HMAC-SHA256 Credential=test/${date.slice(0, 8)}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0`,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const out = JSON.parse(text) as { UnprocessedItems?: Record<string, unknown[]>; __type?: string };
          if (response.statusCode !== 200 || Object.keys(out.UnprocessedItems ?? {}).length > 0) {
            reject(new Error(`store answered ${response.statusCode}: ${text.slice(0, 300)}`));
          } else {
            resolve();
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function pump(): void {
  while (inFlight < CONCURRENCY && (target - queued >= TASKS_PER_CALL || (ended && queued < target))) {
    const tasks = Math.min(TASKS_PER_CALL, target - queued);
    queued += tasks;
    inFlight += 1;
    post(body(tasks)).then(
      () => {
        inFlight -= 1;
        pump();
      },
      (error: Error) => {
        console.error(`store-load: ${error.message}`);
        process.exit(1);
      },
    );
  }
  if (ended && queued >= target && inFlight === 0) {
    process.send?.('done');
    agent.destroy();
    process.disconnect();
  }
}

process.on('message', (message: { tasks: number; end?: boolean }) => {
  target = message.tasks;
  ended = message.end === true;
  pump();
});
