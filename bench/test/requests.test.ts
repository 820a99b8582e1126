// The requests per task bench/README.md states hold: a change that makes a path ask AWS more often
// fails here until the README's table (and the words around it) say so. Counts, never times.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cost, measurePath, REQUEST_PATHS } from '../src/requests.js';

/**
 * Receives, deletes and the status table's batch writes follow how messages happen to batch, which
 * a busy machine changes: beside two busy loops and a full CI run we measured 2.7× the idle table
 * (a chord's status writes, idempotency's deletes), so up to 4× is noise for them. Every other
 * request is one per task or per batch of ten by design, and may not grow at all (5 % for rounding).
 */
const BATCHED = /ReceiveMessage|DeleteMessageBatch|BatchWriteItem/;
const noise = (key: string) => (BATCHED.test(key) ? 4 : 1.05);

interface Stated {
  total: number;
  actions: Map<string, number>;
}

/** The README's table: requests per 1,000 tasks, in total and by action, per path. */
function statedCosts(): Map<string, Stated> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Requests and cost per task'));
  const stated = new Map<string, Stated>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const path = REQUEST_PATHS.find((candidate) => candidate.name === cells[1]);
    if (!path) continue;
    const actions = new Map(
      (cells[3] ?? '').split(', ').map((entry) => {
        const [key = '', count = '0'] = entry.split(' ');
        return [key, Number(count)] as const;
      }),
    );
    stated.set(path.name, { total: Number(cells[2]), actions });
  }
  return stated;
}

describe('requests per task, as bench/README.md states them', () => {
  const stated = statedCosts();

  it('the README has a row for every path', () => {
    expect([...stated.keys()].sort()).toEqual(REQUEST_PATHS.map((path) => path.name).sort());
  });

  it.each(REQUEST_PATHS.map((path) => [path.name, path] as const))(
    '%s',
    async (name, path) => {
      const measured = await measurePath(path, 100);
      const row = stated.get(name) as Stated;
      // No kind of request the README does not list, and none much more often than it says.
      expect(Object.keys(measured.perThousand).filter((key) => !row.actions.has(key))).toEqual([]);
      for (const [key, count] of Object.entries(measured.perThousand)) {
        // Setup lookups (queue URLs, topics), the cancellation index (read when a worker starts and
        // per heartbeat interval) and a flow's own record are per process or per flow, not per
        // task: 100 tasks carry 10 × their share.
        const setup = /GetQueueUrl|GetQueueAttributes|ListTopics|dynamodb:Query|dynamodb:GetItem/.test(key) ? 10 : 1;
        // A flow's `then` is a publish of its own, once per flow: 100 tasks carry 10 per 1,000 of it.
        const perFlow = path.chord && key === 'sns:PublishBatch' ? 10 : 0;
        expect(count, `${name}: ${key}`).toBeLessThanOrEqual(
          (row.actions.get(key) ?? 0) * noise(key) * setup + perFlow,
        );
      }
    },
    120_000,
  );
});

describe('the price of a path', () => {
  it('adds SQS, SNS, S3 and DynamoDB at their list prices, DynamoDB writes by item', () => {
    const counts = { 'sqs:SendMessage': 1000, 'sns:Publish': 1000, 's3:PutObject': 1000, 's3:GetObject': 1000 };
    const priced = cost('example', 1000, { ...counts, 'dynamodb:BatchWriteItem': 40 }, 2000);
    expect(priced.totalPerThousand).toBe(4040);
    // 0.40 + 0.50 + 5.00 + 0.40 + 2 items × 0.625 per million tasks.
    expect(priced.dollarsPerMillion).toBe(7.55);
  });
});
