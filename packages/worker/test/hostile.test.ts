import { createHash } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { createTask, FAILURE_ATTRIBUTES } from '@tq/contracts';
import { injectAwsFault, queueCounts, waitForExit, waitForMessages, waitUntil } from '@tq/testing';
import { describe, expect, it } from 'vitest';
import { RetryLaterError } from '../src/index.js';
import {
  latch,
  readResults,
  record,
  resultsFile,
  samples,
  sendEnvelope,
  spawnWorkerProcess,
  useHarness,
} from './helpers.js';

const harness = useHarness();

async function bucket(): Promise<string> {
  const name = `h-${Math.random().toString(36).slice(2, 10)}`;
  await harness.s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** A claim-check pointer for a valid task whose envelope is said to live at `uri`. */
function pointer(uri: string, body = 'x', bytes = Buffer.byteLength(body)): string {
  const { payload: _payload, ...meta } = createTask('send_email', samples.send_email);
  return JSON.stringify({
    ...meta,
    claimCheck: { uri, bytes, sha256: createHash('sha256').update(body).digest('hex') },
  });
}

/**
 * A worker that reads claim checks with `s3` from the `allowed` bucket (retrying at once), with a
 * pointer to `s3://<allowed>/a.json` on its queue: what it dead-lettered and retried.
 */
async function readClaimCheck(queueUrl: string, s3: S3Client, allowed: string) {
  const worker = harness.worker({
    task: 'send_email',
    queueUrl,
    s3,
    s3Allow: [allowed],
    retry: { baseSeconds: 0 },
    handler: () => {},
  });
  const dead = record(worker, 'dead-lettered');
  const retried = record(worker, 'retrying');
  await worker.start();
  await harness.sqs.send(
    new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: pointer(`s3://${allowed}/a.json`) }),
  );
  return { dead, retried };
}

/** An S3 client that counts the GetObject calls it sends. */
function countingS3(): { s3: S3Client; gets: () => number } {
  const s3 = new S3Client({ ...harness.endpoint.clientConfig, forcePathStyle: true });
  let gets = 0;
  s3.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'GetObjectCommand') gets += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countGets' },
  );
  return { s3, gets: () => gets };
}

describe('hostile claim checks', () => {
  it('dead-letters pointers outside the allow-list or with a lone surrogate before any S3 call', async () => {
    const { queue, dlq } = await harness.queues();
    const allowed = await bucket();
    const other = await bucket();
    await harness.s3.send(new PutObjectCommand({ Bucket: other, Key: 'secret.json', Body: 'x' }));
    const { s3, gets } = countingS3();
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      s3,
      s3Allow: [allowed],
      handler: () => {},
    });
    const dead = record(worker, 'dead-lettered');
    await worker.start();
    await harness.sqs.send(
      new SendMessageCommand({ QueueUrl: queue.url, MessageBody: pointer(`s3://${other}/secret.json`) }),
    );
    // JSON escapes let any client put a lone surrogate in a key; S3 keys are UTF-8.
    const surrogate = pointer(`s3://${allowed}/key`).replace(`${allowed}/key`, `${allowed}/k\\ud800ey`);
    await harness.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: surrogate }));
    await dead.waitFor(2);
    expect(dead.items.map((item) => item.code).sort()).toEqual(['INVALID_LOCATION', 'LOCATION_NOT_ALLOWED']);
    expect(dead.items.find((item) => item.code === 'LOCATION_NOT_ALLOWED')?.reason).toMatch(
      new RegExp(`s3://${other}/secret.json is outside .*${allowed}`),
    );
    expect(gets()).toBe(0);
    const letters = await waitForMessages(harness.sqs, dlq.url, 2);
    for (const letter of letters)
      expect(letter.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue).toBeTruthy();
    s3.destroy();
  });

  it('dead-letters a forbidden claim check at once (AccessDenied simulated by a client middleware: the local endpoint has no IAM)', async () => {
    const { queue } = await harness.queues();
    const allowed = await bucket();
    const s3 = new S3Client({ ...harness.endpoint.clientConfig, forcePathStyle: true });
    injectAwsFault(s3, () => true, { name: 'AccessDenied', status: 403, message: 'Access Denied' });
    const { dead, retried } = await readClaimCheck(queue.url, s3, allowed);
    const [letter] = await dead.waitFor(1);
    expect(letter).toMatchObject({ code: 'CLAIM_CHECK_FORBIDDEN', attempt: 1 });
    expect(retried.items).toHaveLength(0);
    s3.destroy();
  });

  it('retries a claim check S3 cannot serve right now, and dead-letters it with RETRIES_EXHAUSTED on the last attempt', async () => {
    const { queue, dlq } = await harness.queues({ maxReceiveCount: 2 });
    const allowed = await bucket();
    // Nothing listens on port 9: every read fails with a connection error.
    const s3 = new S3Client({ ...harness.endpoint.clientConfig, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
    const { dead, retried } = await readClaimCheck(queue.url, s3, allowed);
    const [letter] = await dead.waitFor(1);
    expect(letter).toMatchObject({ code: 'RETRIES_EXHAUSTED', attempt: 2 });
    expect(letter?.reason).toMatch(/^failed 2 attempts; last error: could not read s3:\/\//);
    expect(retried.items).toHaveLength(1);
    const [moved] = await waitForMessages(harness.sqs, dlq.url, 1);
    expect(moved?.MessageAttributes?.[FAILURE_ATTRIBUTES.code]?.StringValue).toBe('RETRIES_EXHAUSTED');
    s3.destroy();
  });

  it('a pointer that understates a 200 MiB object is dead-lettered while the worker stays within its memory bound', async () => {
    const { queue } = await harness.queues();
    const allowed = await bucket();
    // 20 parts of 10 MiB (the endpoint takes at most 11 MiB per request).
    const { UploadId } = await harness.s3.send(new CreateMultipartUploadCommand({ Bucket: allowed, Key: 'huge.json' }));
    const part = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const parts = [];
    for (let number = 1; number <= 20; number += 1) {
      const { ETag } = await harness.s3.send(
        new UploadPartCommand({ Bucket: allowed, Key: 'huge.json', UploadId, PartNumber: number, Body: part }),
      );
      parts.push({ ETag, PartNumber: number });
    }
    await harness.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: allowed,
        Key: 'huge.json',
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const file = resultsFile();
    const lines = () => readResults(file);
    const child = spawnWorkerProcess({
      TQ_ENDPOINT: harness.endpoint.endpoint,
      QUEUE_URL: queue.url,
      RESULTS_FILE: file,
      S3_ALLOW: allowed,
    });
    try {
      await waitUntil(() => lines().find((line) => line.event === 'ready'), 'the worker to be ready');
      await harness.sqs.send(
        new SendMessageCommand({ QueueUrl: queue.url, MessageBody: pointer(`s3://${allowed}/huge.json`, 'tiny') }),
      );
      const dead = await waitUntil(() => lines().find((line) => line.event === 'dead-lettered'), 'the dead letter');
      const ready = lines().find((line) => line.event === 'ready');
      expect(dead.code).toBe('CLAIM_CHECK_INVALID');
      // The documented bound: a claim check costs its declared size plus one chunk, never the object.
      expect((dead.maxRss ?? 0) - (ready?.maxRss ?? 0), child.output()).toBeLessThan(48 * 1024 * 1024);
    } finally {
      child.kill('SIGTERM');
      await waitForExit(child);
    }
  });
});

describe('hostile handlers', () => {
  it('a RetryLaterError on the last attempt is dead-lettered with RETRIES_EXHAUSTED, not moved without a reason', async () => {
    const { queue } = await harness.queues({ maxReceiveCount: 2 });
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      handler: () => {
        throw new RetryLaterError(0, 'rate limited');
      },
    });
    const dead = record(worker, 'dead-lettered');
    await worker.start();
    await sendEnvelope(harness.sqs, queue.url);
    const [letter] = await dead.waitFor(1);
    expect(letter).toMatchObject({ code: 'RETRIES_EXHAUSTED', attempt: 2 });
    expect(letter?.reason).toContain('rate limited');
  });

  it('stop() ends after grace + abortWaitMs while a handler ignores its signal, and never releases its message under it', async () => {
    const { queue } = await harness.queues();
    const started = latch();
    const finish = latch();
    let ended = false;
    const worker = harness.worker({
      task: 'send_email',
      queueUrl: queue.url,
      visibilityTimeoutSeconds: 600,
      shutdownGraceMs: 100,
      abortWaitMs: 200,
      handler: async () => {
        started.open();
        await finish.promise; // ignores its signal
        ended = true;
      },
    });
    const released = record(worker, 'released');
    const retried = record(worker, 'retrying');
    await worker.start();
    await sendEnvelope(harness.sqs, queue.url);
    await started.promise;
    await worker.stop();
    // stop() returned with the handler still running, and left its message invisible.
    expect(ended).toBe(false);
    expect(released.items).toHaveLength(0);
    expect(retried.items).toHaveLength(0);
    expect(await queueCounts(harness.sqs, queue.url)).toMatchObject({ visible: 0, inFlight: 1 });
    finish.open();
  });
});
