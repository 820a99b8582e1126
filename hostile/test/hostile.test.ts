import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, type Message, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { FAILURE_ATTRIBUTES } from '@tq/contracts';
import {
  type LocalEndpoint,
  queueCounts,
  type SpawnedProcess,
  spawnTs,
  startLocalEndpoint,
  uniqueName,
  waitForMessages,
  waitForOutput,
} from '@tq/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import config from '../../tq.config.js';
import { FOREIGN_SECRET, type HostileCase, hostileCases, objectsFor, SUITE_LIMITS } from './cases.js';

const tq = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages', 'cli', 'src', 'bin.ts');
// The task types of the project `tq up` runs here: this repository's tq.config.ts.
const TASKS = config.registry.names();

describe('hostile input against tq up: every bad message ends in its DLQ with its reason', { timeout: 600_000 }, () => {
  let endpoint: LocalEndpoint;
  let sqs: SQSClient;
  let s3: S3Client;
  let up: SpawnedProcess;
  const prefix = uniqueName('hostile').toLowerCase();
  const bucket = `${prefix}-artifacts`;
  const foreign = `${prefix}-foreign`;
  const missingBucket = `${prefix}-nobucket`;
  const mailDir = join(tmpdir(), `${prefix}-mail`);

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    sqs = new SQSClient(endpoint.clientConfig);
    s3 = new S3Client({ ...endpoint.clientConfig, forcePathStyle: true });
    // The whole system as a user runs it: `tq up` with its four worker processes, configured
    // by environment only (the allow-list and the limits each app reads).
    up = spawnTs(tq, ['up', '--smtp-port', '0', '--mail-dir', mailDir], {
      TQ_ENDPOINT: endpoint.endpoint,
      TQ_PREFIX: prefix,
      TQ_S3_ALLOW: `${bucket},${missingBucket}`,
      TQ_HTTP_PORT: 'off',
      LOG_LEVEL: 'warn',
      ...SUITE_LIMITS,
    });
    await waitForOutput(up, /tq: ready/);
    await s3.send(new CreateBucketCommand({ Bucket: foreign }));
    await s3.send(new PutObjectCommand({ Bucket: foreign, Key: FOREIGN_SECRET.key, Body: FOREIGN_SECRET.body }));
    const fixtures = {
      hugeClaim: Buffer.alloc(4 * 1024 * 1024, 0x7b),
      notAnImage: Buffer.from('these are notes, not a JPEG'),
      pixelBomb: await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#000' } })
        .png()
        .toBuffer(),
      noisyImage: await sharp({
        create: {
          width: 400,
          height: 400,
          channels: 3,
          background: '#888',
          noise: { type: 'gaussian', mean: 128, sigma: 60 },
        },
      })
        .png()
        .toBuffer(),
      smallImage: await sharp({ create: { width: 64, height: 48, channels: 3, background: '#123456' } })
        .png()
        .toBuffer(),
    };
    for (const [key, body] of Object.entries(objectsFor(fixtures))) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    }
  });

  afterAll(async () => {
    if (up && up.exitCode === null) {
      const exited = once(up, 'exit');
      up.kill('SIGTERM');
      await exited;
    }
    sqs?.destroy();
    s3?.destroy();
    await endpoint?.stop();
  });

  it('dead-letters each case with its code; nothing is lost, read, written or mailed outside the allow-list', async () => {
    const cases = hostileCases({ bucket, foreign, missingBucket });
    // Every registered task type has hostile cases: a new type without any fails here.
    for (const task of TASKS)
      expect(
        cases.some((c) => c.task === task),
        `no hostile cases for ${task}`,
      ).toBe(true);
    expect(new Set(cases.map((c) => c.body)).size).toBe(cases.length);
    const url = async (name: string) =>
      (await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-${name}` }))).QueueUrl as string;

    // A plain SQS client, as any service in any language would send them.
    for (const hostile of cases) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: await url(hostile.task),
          MessageBody: hostile.body,
          MessageAttributes: { task: { DataType: 'String', StringValue: hostile.task } },
        }),
      );
    }

    const letters = new Map<string, Message>();
    for (const task of TASKS) {
      const expected = cases.filter((c) => c.task === task).length;
      const received = await waitForMessages(sqs, await url(`${task}-dlq`), expected, { timeoutMs: 300_000 });
      for (const message of received) letters.set(message.Body ?? '', message);
    }
    const outcome = (hostile: HostileCase) => {
      const letter = letters.get(hostile.body);
      return {
        task: hostile.task,
        name: hostile.name,
        code: letter?.MessageAttributes?.[FAILURE_ATTRIBUTES.code]?.StringValue ?? '(not in the DLQ)',
        reason: Boolean(letter?.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue),
      };
    };
    // One table, so a failure shows every row that went wrong at once.
    expect(cases.map(outcome)).toEqual(cases.map((c) => ({ task: c.task, name: c.name, code: c.code, reason: true })));

    // Nothing lost: every case is in a DLQ exactly once, and no task queue holds anything once the
    // workers have deleted the originals (a dead letter's original goes after its DLQ copy and its
    // status step have landed, so it may still be in flight for a moment).
    expect(letters.size).toBe(cases.length);
    const empty = { visible: 0, inFlight: 0, delayed: 0 };
    for (const task of TASKS) {
      const deadline = Date.now() + 120_000;
      let counts = await queueCounts(sqs, await url(task));
      while (counts.inFlight > 0 && counts.visible === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        counts = await queueCounts(sqs, await url(task));
      }
      expect(counts).toEqual(empty);
    }
    // Nothing written outside the allow-list, nothing mailed, the workers still running.
    const foreignKeys = await s3.send(new ListObjectsV2Command({ Bucket: foreign }));
    expect(foreignKeys.Contents?.map((object) => object.Key)).toEqual([FOREIGN_SECRET.key]);
    const mails = await readdir(mailDir).catch(() => []);
    expect(mails).toEqual([]);
    expect(up.exitCode).toBeNull();
    expect(up.output()).not.toMatch(/exited \(/);
  });
});
