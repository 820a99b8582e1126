import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import { createTask, encodeMessageBody, type TaskPayloads } from '@tq/contracts';
import {
  createQueueWithDlq,
  createTestBucket,
  type EndpointProcess,
  injectAwsFault,
  startEndpointProcess,
  type TestBucket,
  testWorkerOptions,
} from '@tq/testing';
import { resolveS3Allow, type Worker } from '@tq/worker';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CleanupSummary, cleanCsv, createCleanupWorker } from '../src/worker.js';

const FIXTURE = [
  '\uFEFFid,name,email,age,active,signup,country,notes',
  '1,  Ada   Lovelace ,ADA@Example.COM,36,yes,10/12/2023,uk,"=HYPERLINK(""http://evil"")"',
  '2,Grace Hopper,grace@example.com,N/A,true,2023-01-05,US,+cmd',
  '3,Alan Turing,alan@example,41,no,2023-02-30,uk,fine',
  '4,"Hopper, Grace",GRACE@EXAMPLE.COM,85,1,05/01/2023,us,duplicate of 2',
  ',,,,,,,',
  '5,Bad Age,bad@example.com,forty,0,01/01/2023,fr,x',
  '6,No Email,,22,y,01/02/2023,de,x',
  '7,Too,Many,Columns,here,1,2,3,4',
  '8,"Broken "quote",x@example.com,1,1,01/01/2023,x,y',
  '9,"Multi',
  'line name",multi@example.com,30,f,2023-03-01,es,-5',
  '10,Date Bad,date@example.com,30,t,31/04/2023,it,x',
  '   ,   ,  ,  ,  ,  ,  ,  ',
  '12,Ünïcode Nåme,uni@example.com,+007,TRUE,2023-12-31,jp,@SUM(1)',
  '',
].join('\r\n');

const RULES: TaskPayloads['cleanup_data']['rules'] = {
  columns: {
    email: { type: 'email' },
    age: { type: 'integer', nullValues: ['N/A'] },
    active: { type: 'boolean' },
    signup: { type: 'date', dateFormats: ['YYYY-MM-DD', 'DD/MM/YYYY'] },
    country: { case: 'upper' },
    name: { case: 'title' },
  },
  requiredColumns: ['id', 'email'],
  dedupe: { keys: ['email'], caseInsensitive: true },
  rename: { signup: 'signed_up_on', notes: 'comment' },
  select: ['id', 'email', 'name', 'age', 'active', 'signed_up_on', 'country', 'comment'],
};

describe('cleanup worker', () => {
  let endpoint: EndpointProcess;
  let sqs: SQSClient;
  let s3: S3Client;
  let files: TestBucket;
  const bucket = `clean-${Date.now().toString(36)}`;
  const allow = resolveS3Allow([bucket]);

  beforeAll(async () => {
    // Its own process, so the endpoint's in-memory objects do not count towards this one's memory.
    endpoint = await startEndpointProcess();
    sqs = new SQSClient(endpoint.clientConfig);
    s3 = new S3Client(endpoint.clientConfig);
    files = await createTestBucket(s3, { name: bucket });
  });
  afterAll(async () => {
    sqs?.destroy();
    s3?.destroy();
    await endpoint?.stop();
  });

  const read = (key: string) => files.get(key);

  it('applies every rule: exact cleaned output, rejects with line numbers and reasons, and the summary', async () => {
    await files.put('in/customers.csv', FIXTURE);
    const signal = new AbortController().signal;
    const summary = await cleanCsv(
      s3,
      { source: `s3://${bucket}/in/customers.csv`, destination: `s3://${bucket}/out/customers/`, rules: RULES },
      { signal, allow },
    );
    const cleaned = await read('out/customers/cleaned.csv');
    expect(cleaned.contentType).toBe('text/csv; charset=utf-8');
    expect(cleaned.text).toBe(
      [
        'id,email,name,age,active,signed_up_on,country,comment',
        `1,ada@example.com,Ada Lovelace,36,true,2023-12-10,UK,"'=HYPERLINK(""http://evil"")"`,
        "2,grace@example.com,Grace Hopper,,true,2023-01-05,US,'+cmd",
        "9,multi@example.com,Multi Line Name,30,false,2023-03-01,ES,'-5",
        "12,uni@example.com,Ünïcode Nåme,7,true,2023-12-31,JP,'@SUM(1)",
        '',
      ].join('\n'),
    );
    const rejects = await read('out/customers/rejects.csv');
    expect(rejects.text).toBe(
      [
        'line,reason,row',
        '4,"column ""email"": ""alan@example"" is not an email address","3,Alan Turing,alan@example,41,no,2023-02-30,uk,fine"',
        '7,"column ""age"": ""forty"" is not an integer","5,Bad Age,bad@example.com,forty,0,01/01/2023,fr,x"',
        '8,"column ""email"" is required but empty","6,No Email,,22,y,01/02/2023,de,x"',
        '9,"expected 8 columns, found 9","7,Too,Many,Columns,here,1,2,3,4"',
        '10,"invalid quote at column 12: a closing quote must be followed by "","" or the end of the line","8,""Broken ""quote"",x@example.com,1,1,01/01/2023,x,y"',
        '13,"column ""signup"": ""31/04/2023"" is not a date in YYYY-MM-DD or DD/MM/YYYY","10,Date Bad,date@example.com,30,t,31/04/2023,it,x"',
        '',
      ].join('\n'),
    );
    const written = JSON.parse((await read('out/customers/summary.json')).text) as CleanupSummary;
    expect(written).toEqual(summary);
    expect(summary).toEqual({
      source: `s3://${bucket}/in/customers.csv`,
      outputs: {
        cleaned: `s3://${bucket}/out/customers/cleaned.csv`,
        rejects: `s3://${bucket}/out/customers/rejects.csv`,
        summary: `s3://${bucket}/out/customers/summary.json`,
      },
      columns: ['id', 'email', 'name', 'age', 'active', 'signed_up_on', 'country', 'comment'],
      rowsIn: 13,
      rowsOut: 4,
      rejected: 6,
      rejectedByReason: {
        'INVALID_EMAIL:email': 1,
        'INVALID_INTEGER:age': 1,
        'REQUIRED:email': 1,
        COLUMN_COUNT: 1,
        MALFORMED_ROW: 1,
        'INVALID_DATE:signup': 1,
      },
      duplicatesRemoved: 1,
      emptyRowsDropped: 2,
    });
  });

  it('runs as a worker: bad files are dead-lettered with the reason, never a crash loop', async () => {
    const { queue } = await createQueueWithDlq(sqs, { maxReceiveCount: 3 });
    const worker: Worker<'cleanup_data'> = createCleanupWorker({
      s3,
      s3Allow: allow,
      limits: { maxColumns: 3, maxRows: 2, maxBytes: 64 },
      worker: { sqs, ...testWorkerOptions(queue.url) },
    });
    const outcomes = new Map<string, { code?: string; reason?: string; result?: unknown }>();
    worker.on('succeeded', ({ id, result }) => outcomes.set(id, { result }));
    worker.on('dead-lettered', ({ id, code, reason }) => outcomes.set(id ?? '', { code, reason }));
    await worker.start();
    try {
      await files.put('in/empty.csv', '');
      await files.put('in/ok.csv', 'a,b\n1,2\n');
      const run = async (source: string, rules: TaskPayloads['cleanup_data']['rules'] = {}) => {
        const task = createTask('cleanup_data', { source, destination: `s3://${bucket}/out/w/`, rules });
        await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: encodeMessageBody(task) }));
        for (;;) {
          const outcome = outcomes.get(task.id);
          if (outcome) return outcome;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      };
      expect(await run(`s3://${bucket}/in/missing.csv`)).toMatchObject({ code: 'SOURCE_MISSING' });
      expect(await run(`s3://${bucket}/in/empty.csv`)).toMatchObject({ code: 'NO_HEADER' });
      const unknown = await run(`s3://${bucket}/in/ok.csv`, { requiredColumns: ['email'] });
      expect(unknown).toMatchObject({ code: 'UNKNOWN_COLUMN' });
      expect(unknown.reason).toContain('rules.requiredColumns names column "email"');
      expect(await run(`s3://${bucket}/in/ok.csv`)).toMatchObject({ result: { rowsIn: 1, rowsOut: 1 } });

      // Bounds: bytes, columns, rows.
      await files.put('in/wide.csv', 'a,b,c,d\n1,2,3,4\n');
      await files.put('in/long.csv', 'a\n1\n2\n3\n');
      await files.put('in/big.csv', `a\n${'1\n'.repeat(40)}`);
      expect(await run(`s3://${bucket}/in/wide.csv`)).toMatchObject({ code: 'TOO_MANY_COLUMNS' });
      expect(await run(`s3://${bucket}/in/long.csv`)).toMatchObject({ code: 'TOO_MANY_ROWS' });
      expect(await run(`s3://${bucket}/in/big.csv`)).toMatchObject({ code: 'SOURCE_TOO_LARGE' });

      // Confinement: nothing read from or written to a bucket outside the allow-list.
      const other = `other-${Date.now().toString(36)}`;
      const others = await createTestBucket(s3, { name: other });
      await others.put('secret.csv', 'secret\nlaunch codes\n');
      const stolen = await run(`s3://${other}/secret.csv`);
      expect(stolen).toMatchObject({ code: 'LOCATION_NOT_ALLOWED' });
      const task = createTask('cleanup_data', {
        source: `s3://${bucket}/in/ok.csv`,
        destination: `s3://${other}/planted/`,
        rules: {},
      });
      await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: encodeMessageBody(task) }));
      await vi.waitFor(() => expect(outcomes.get(task.id)).toMatchObject({ code: 'LOCATION_NOT_ALLOWED' }), {
        timeout: 120_000,
      });
      expect(await others.count('planted/')).toBe(0);
      expect(await files.count('out/w/rejects.csv')).toBe(1); // only the run that was allowed wrote
    } finally {
      await worker.stop();
    }
  });

  it('dead-letters a missing destination bucket at once, and retries a failing S3 write', async () => {
    const outcome = async (client: S3Client, destination: string) => {
      const { queue } = await createQueueWithDlq(sqs, { maxReceiveCount: 3 });
      const worker = createCleanupWorker({
        s3: client,
        s3Allow: [bucket, 'no-such-bucket-tq'],
        worker: {
          sqs,
          ...testWorkerOptions(queue.url, { retryAtOnce: true }),
        },
      });
      const retries: number[] = [];
      const dead = new Promise<{ code: string; attempt: number }>((resolve) =>
        worker.on('dead-lettered', ({ code, attempt }) => resolve({ code, attempt })),
      );
      worker.on('retrying', ({ attempt }) => retries.push(attempt));
      await worker.start();
      try {
        const task = createTask('cleanup_data', { source: `s3://${bucket}/in/retry.csv`, destination, rules: {} });
        await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: encodeMessageBody(task) }));
        return { ...(await dead), retries };
      } finally {
        await worker.stop();
      }
    };
    await files.put('in/retry.csv', 'a,b\n1,2\n');
    // No retry can create the bucket: dead-lettered at once, as in every app.
    expect(await outcome(s3, 's3://no-such-bucket-tq/out/')).toEqual({
      code: 'DESTINATION_UNWRITABLE',
      attempt: 1,
      retries: [],
    });
    // A server fault on writes (simulated by a client middleware: the endpoint does not fail on
    // demand) may pass: retried, then dead-lettered with the last error once attempts run out.
    const failing = new S3Client({ ...endpoint.clientConfig, maxAttempts: 1 });
    injectAwsFault(failing, (command) => command !== 'GetObjectCommand', { name: 'InternalError', status: 500 });
    try {
      expect(await outcome(failing, `s3://${bucket}/out/failing/`)).toEqual({
        code: 'RETRIES_EXHAUSTED',
        attempt: 3,
        retries: [1, 2],
      });
    } finally {
      failing.destroy();
    }
  });

  it('cleans columns named after JavaScript built-ins (constructor, toString, __proto__) like any other', async () => {
    await files.put(
      'in/builtins.csv',
      'constructor,toString,__proto__,valueOf\n a ,x,1,k1\nb,,2,k2\nc,y,three,k3\nd,z,4,k1\n',
    );
    // Rules as they arrive from the queue: parsed JSON, where "__proto__" is an own key.
    const rules = JSON.parse(
      '{"columns":{"__proto__":{"type":"integer"}},"requiredColumns":["toString"],"dedupe":{"keys":["valueOf"]},"rename":{"constructor":"ctor","__proto__":"proto"}}',
    ) as TaskPayloads['cleanup_data']['rules'];
    const summary = await cleanCsv(
      s3,
      { source: `s3://${bucket}/in/builtins.csv`, destination: `s3://${bucket}/out/builtins/`, rules },
      { signal: new AbortController().signal, allow },
    );
    expect((await read('out/builtins/cleaned.csv')).text).toBe('ctor,toString,proto,valueOf\na,x,1,k1\n');
    expect(summary).toMatchObject({
      columns: ['ctor', 'toString', 'proto', 'valueOf'],
      rowsIn: 4,
      rowsOut: 1,
      rejected: 2,
      duplicatesRemoved: 1,
    });
    expect({ ...summary.rejectedByReason }).toEqual({ 'REQUIRED:toString': 1, 'INVALID_INTEGER:__proto__': 1 });
  });

  it('processes 200,000 rows with flat memory: streamed in, streamed out', async () => {
    const rows = 200_000;
    const lines = function* () {
      yield 'id,name,email,amount,when\n';
      for (let i = 0; i < rows; i += 1) {
        yield `${i},  Customer ${i} ,USER${i}@Example.com,${(i * 37) % 1000}.5,${1 + (i % 28)}/0${1 + (i % 9)}/2024\n`;
      }
    };
    await new Upload({
      client: s3,
      params: { Bucket: bucket, Key: 'in/large.csv', Body: Readable.from(lines()) },
    }).done();

    // Retained memory, not garbage: collect before each sample.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const retained = () => {
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    const baseline = retained();
    let peakHeap = baseline;
    const sampler = setInterval(() => {
      gc();
      peakHeap = Math.max(peakHeap, retained());
    }, 100);
    const summary = await cleanCsv(
      s3,
      {
        source: `s3://${bucket}/in/large.csv`,
        destination: `s3://${bucket}/out/large/`,
        rules: {
          columns: {
            email: { type: 'email' },
            amount: { type: 'number' },
            when: { type: 'date', dateFormats: ['D/MM/YYYY'] },
          },
        },
      },
      { signal: new AbortController().signal, partSize: 5 * 1024 * 1024, allow },
    ).finally(() => clearInterval(sampler));
    expect(summary).toMatchObject({ rowsIn: rows, rowsOut: rows, rejected: 0 });
    const head = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'out/large/cleaned.csv', Range: 'bytes=0-200' }),
    );
    expect(await head.Body?.transformToString()).toMatch(
      /^id,name,email,amount,when\n0,Customer 0,user0@example.com,0.5,2024-01-01\n/,
    );
    // 200,000 rows held as parsed records would take hundreds of MB. Streaming keeps the retained
    // heap to the multipart buffers (parts of 5 MiB, two in flight per output) and one batch.
    const heapGrowth = (peakHeap - baseline) / 1024 / 1024;
    expect(heapGrowth).toBeLessThan(48);
  }, 120_000);
});
