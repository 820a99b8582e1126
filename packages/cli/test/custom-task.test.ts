// The "Adding a task type" guide of packages/contracts/README.md, followed step by step for a
// throwaway sixth type: if a step of the guide stops working, this test fails.
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  builtinTasks,
  createRegistry,
  defineTask,
  type InferTaskVersions,
  isTaskValidationError,
  jsonSchemas,
  type Static,
  type TaskPayload,
  Type,
} from '@tq/contracts';
import { createProducer } from '@tq/producer-sdk';
import { type LocalEndpoint, startLocalEndpoint, testWorkerOptions, uniqueName } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { createWorker } from '@tq/worker';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';

// Step 1: the payload schema, one TypeBox object per version (`Type` from @tq/contracts).
const TranscodeVideoV1 = Type.Object(
  {
    source: Type.String({ pattern: '^s3://' }),
    height: Type.Union([Type.Literal(480), Type.Literal(720), Type.Literal(1080)]),
  },
  { additionalProperties: false },
);

// Step 2: the definition, and a registry with it beside the built-in types.
const transcodeVideo = defineTask({
  name: 'transcode_video',
  description: 'Transcodes a video to one height.',
  versions: { 1: { schema: TranscodeVideoV1 } },
  queue: { visibilityTimeoutSeconds: 600, maxReceiveCount: 3 },
});
const myTasks = [transcodeVideo] as const;
const registry = createRegistry([...builtinTasks, ...myTasks]);

// Step 3: its types, inferred from the definition and merged into tq's.
declare module '@tq/contracts' {
  interface TaskVersions extends InferTaskVersions<typeof myTasks> {}
}

describe('adding a task type, as the contracts README says', () => {
  let endpoint: LocalEndpoint;
  let sqs: SQSClient;
  let sns: SNSClient;
  let s3: S3Client;
  const prefix = uniqueName('custom');

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    sqs = new SQSClient(endpoint.clientConfig);
    sns = new SNSClient(endpoint.clientConfig);
    s3 = new S3Client({ ...endpoint.clientConfig, forcePathStyle: true });
  });
  afterAll(async () => {
    sqs?.destroy();
    sns?.destroy();
    s3?.destroy();
    await endpoint?.stop();
  });

  it('types, provisions, sends, validates and handles the new task', async () => {
    expectTypeOf<TaskPayload<'transcode_video'>>().toEqualTypeOf<Static<typeof TranscodeVideoV1>>();
    expect(jsonSchemas(registry).map((file) => file.fileName)).toContain('transcode_video.v1.json');

    // Step 4: its queue, DLQ and subscription, from the same registry.
    await createProvisioner({ sqs, sns, s3, topology: defineTopology({ prefix, registry, bucket: false }) }).apply();

    // Step 5: a worker for it.
    const handled: number[] = [];
    const worker = createWorker({
      task: 'transcode_video',
      registry,
      prefix,
      sqs,
      s3,
      ...testWorkerOptions(),
      handler: (payload) => {
        handled.push(payload.height);
      },
    });
    const succeeded = new Promise((resolve) => worker.once('succeeded', resolve));
    await worker.start();

    // Step 6: send it; an invalid one is refused before it is sent.
    const producer = createProducer({ registry, prefix, sqs, sns, s3 });
    try {
      await producer.send('transcode_video', { source: 's3://tq-artifacts/in.mp4', height: 720 });
      const invalid = await producer
        .send('transcode_video', { source: 'in.mp4', height: 721 } as never)
        .catch((error: unknown) => error);
      expect(isTaskValidationError(invalid)).toBe(true);
      await succeeded;
      expect(handled).toEqual([720]);
    } finally {
      await producer.close();
      await worker.stop();
    }
  });
});
