import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { TaskPayloads } from '@tq/contracts';
import { createProducer } from '@tq/producer-sdk';
import { testWorkerOptions, uniqueName } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import { createProvisioner, defineTopology } from '@tq/topology';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorker } from '../src/index.js';

const email: TaskPayloads['send_email'] = { to: ['john@example.com'], subject: 'Hi', text: 'Hello' };

describe('claim checks from the producer to the worker runtime', () => {
  const local = useLocalEndpoint();
  const prefix = uniqueName('claims');
  const bucket = `claims-${Date.now().toString(36)}`;

  beforeAll(async () => {
    const { s3, sns, sqs } = local;
    await createProvisioner({ sqs, sns, s3, topology: defineTopology({ prefix, bucket }) }).apply();
  });

  const producer = (extra: Parameters<typeof createProducer>[0] = {}) =>
    createProducer({ endpoint: local.endpoint.endpoint, prefix, ...extra });

  it('offloads a large payload to S3 and the worker runtime reads it back transparently', async () => {
    const p = producer({ largePayloads: { bucket } });
    const text = 'z'.repeat(400_000);
    const sent = await p.send('send_email', { ...email, text });
    expect(sent.claimCheck).toMatch(new RegExp(`^s3://${bucket}/tq/claim-checks/send_email/`));
    const [batched] = await p.sendBatch([{ task: 'send_email', payload: { ...email, subject: 'batched', text } }]);
    expect(batched?.ok && batched.claimCheck).toBeTruthy();
    const key = (sent.claimCheck ?? '').replace(`s3://${bucket}/`, '');
    const object = await local.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(object.ContentType).toBe('application/json');
    expect(JSON.parse((await object.Body?.transformToString()) ?? '{}').id).toBe(sent.id);

    const received: { id: string; length: number }[] = [];
    const worker = createWorker({
      task: 'send_email',
      prefix,
      sqs: local.sqs,
      s3: local.s3,
      s3Allow: [bucket],
      ...testWorkerOptions(),
      handler: (payload, ctx) => {
        received.push({ id: ctx.id, length: payload.text?.length ?? 0 });
      },
    });
    const done = new Promise<void>((resolve) => {
      worker.on('succeeded', () => {
        if (received.length === 2) resolve();
      });
    });
    await worker.start();
    try {
      await done;
    } finally {
      await worker.stop();
    }
    expect(received.map((r) => r.id).sort()).toEqual([sent.id, batched?.ok ? batched.id : ''].sort());
    expect(received.every((r) => r.length === 400_000)).toBe(true);
  });
});
