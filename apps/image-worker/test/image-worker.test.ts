import { crc32 } from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { createTask, encodeMessageBody, type TaskPayloads } from '@tq/contracts';
import { createQueueWithDlq, createTestBucket, injectAwsFault, type TestBucket, testWorkerOptions } from '@tq/testing';
import { useLocalEndpoint } from '@tq/testing/vitest';
import type { Worker } from '@tq/worker';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImageWorker, type ImageResult } from '../src/worker.js';

/** A photo-like test image: gradients and noise, so encoders have real work. */
async function photo(width: number, height: number, options: { orientation?: number; gps?: boolean } = {}) {
  const noise = await sharp({
    create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
  })
    .png()
    .toBuffer();
  let image = sharp(noise).composite([
    {
      input: Buffer.from(
        `<svg width="${width}" height="${height}"><rect x="0" y="0" width="${width / 3}" height="${height}" fill="red"/></svg>`,
      ),
    },
  ]);
  if (options.orientation) image = image.withMetadata({ orientation: options.orientation });
  if (options.gps) {
    image = image.withExifMerge({
      IFD0: { Make: 'tq-test' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '52/1 31/1 0/1' },
    });
  }
  return image.jpeg({ quality: 90 }).toBuffer();
}

/** A tiny PNG whose header claims 30000×30000 pixels: a decompression bomb's signature. */
function bombPng(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(30_000, 0);
  header.writeUInt32BE(30_000, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('image worker on real images', () => {
  const local = useLocalEndpoint();
  let s3: S3Client;
  let files: TestBucket;
  let worker: Worker<'process_image'>;
  let queueUrl: string;
  const bucket = `img-${Date.now().toString(36)}`;
  const done = new Map<string, ImageResult>();
  const dead = new Map<string, { code: string; reason: string }>();

  beforeAll(async () => {
    s3 = local.s3;
    files = await createTestBucket(s3, { name: bucket });
    const { queue } = await createQueueWithDlq(local.sqs, { maxReceiveCount: 3 });
    queueUrl = queue.url;
    worker = createImageWorker({
      s3,
      maxPixels: 50_000_000,
      s3Allow: [bucket],
      worker: { sqs: local.sqs, ...testWorkerOptions(queueUrl) },
    });
    worker.on('succeeded', ({ id, result }) => done.set(id, result as ImageResult));
    worker.on('dead-lettered', ({ id, code, reason }) => dead.set(id ?? '', { code, reason }));
    await worker.start();
  });
  afterAll(async () => {
    await worker?.stop();
  });

  async function run(task: TaskPayloads['process_image']) {
    const envelope = createTask('process_image', task);
    await local.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: encodeMessageBody(envelope) }));
    for (;;) {
      const result = done.get(envelope.id);
      if (result) return { result };
      const failure = dead.get(envelope.id);
      if (failure) return { failure };
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function fetchImage(uri: string) {
    const { contentType, data } = await files.get(uri);
    return { contentType, data, metadata: await sharp(data).metadata() };
  }

  it('writes each variant with its size, format and content type, checked by decoding it', async () => {
    await files.put('in/big.jpg', await photo(3000, 2000));
    const { result } = await run({
      source: `s3://${bucket}/in/big.jpg`,
      destination: `s3://${bucket}/out/big/`,
      variants: [
        { name: 'thumb', width: 200, height: 200, fit: 'cover', format: 'webp', quality: 70 },
        { name: 'medium', width: 800, format: 'jpeg', quality: 80 },
        { name: 'boxed', width: 400, height: 400, fit: 'contain', format: 'png', background: '#00ff00' },
        { name: 'huge', width: 6000, format: 'webp', quality: 40 },
        { name: 'small', width: 300, format: 'avif', quality: 40 },
      ],
    });
    expect(result?.source).toMatchObject({ width: 3000, height: 2000, format: 'jpeg' });
    const byName = new Map(result?.variants.map((v) => [v.name, v]));
    const thumb = await fetchImage(byName.get('thumb')?.uri ?? '');
    expect(thumb).toMatchObject({ contentType: 'image/webp', metadata: { format: 'webp', width: 200, height: 200 } });
    const medium = await fetchImage(byName.get('medium')?.uri ?? '');
    expect(medium).toMatchObject({ contentType: 'image/jpeg', metadata: { format: 'jpeg', width: 800, height: 533 } });
    expect(byName.get('medium')?.uri).toBe(`s3://${bucket}/out/big/medium.jpg`);
    const boxed = await fetchImage(byName.get('boxed')?.uri ?? '');
    expect(boxed.metadata).toMatchObject({ format: 'png', width: 400, height: 400 });
    // `contain` letterboxes with the background colour.
    const corner = await sharp(boxed.data).extract({ left: 0, top: 0, width: 1, height: 1 }).raw().toBuffer();
    expect([...corner.subarray(0, 3)]).toEqual([0, 255, 0]);
    // withoutEnlargement (default) keeps the source size.
    const huge = await fetchImage(byName.get('huge')?.uri ?? '');
    expect(huge.metadata).toMatchObject({ format: 'webp', width: 3000, height: 2000 });
    const small = await fetchImage(byName.get('small')?.uri ?? '');
    expect(small).toMatchObject({
      contentType: 'image/avif',
      metadata: { format: 'heif', compression: 'av1', width: 300 },
    });
    for (const variant of result?.variants ?? []) {
      expect(variant.bytes).toBe((await fetchImage(variant.uri)).data.byteLength);
    }
  });

  it('honours EXIF orientation and strips metadata (GPS) unless asked to keep it', async () => {
    await files.put('in/rotated.jpg', await photo(300, 100, { orientation: 6, gps: true }));
    const source = `s3://${bucket}/in/rotated.jpg`;
    const { result } = await run({
      source,
      destination: `s3://${bucket}/out/rotated/`,
      variants: [{ name: 'same', format: 'jpeg' }],
    });
    const output = await fetchImage(result?.variants[0]?.uri ?? '');
    expect(output.metadata).toMatchObject({ width: 100, height: 300 });
    expect(output.metadata.exif).toBeUndefined();
    expect(output.metadata.orientation).toBeUndefined();

    const kept = await run({
      source,
      destination: `s3://${bucket}/out/kept/`,
      variants: [{ name: 'same', format: 'jpeg' }],
      keepMetadata: true,
    });
    const keptImage = await fetchImage(kept.result?.variants[0]?.uri ?? '');
    expect(keptImage.metadata.exif?.toString('latin1')).toContain('tq-test');

    const unrotated = await run({
      source,
      destination: `s3://${bucket}/out/unrotated/`,
      variants: [{ name: 'same', format: 'png' }],
      autoOrient: false,
    });
    expect((await fetchImage(unrotated.result?.variants[0]?.uri ?? '')).metadata).toMatchObject({
      width: 300,
      height: 100,
    });
  });

  it('dead-letters a decompression bomb, a corrupt file, an unsupported format and a missing source', async () => {
    const jpeg = await photo(400, 300);
    await files.put('in/bomb.png', bombPng());
    await files.put('in/truncated.jpg', jpeg.subarray(0, jpeg.length / 3));
    await files.put('in/notes.txt', 'this is not an image at all');
    const task = (name: string) => ({
      source: `s3://${bucket}/in/${name}`,
      destination: `s3://${bucket}/out/${name}/`,
      variants: [{ name: 'thumb', width: 100, format: 'webp' as const }],
    });
    const bomb = await run(task('bomb.png'));
    expect(bomb.failure?.code).toBe('IMAGE_TOO_LARGE');
    expect(bomb.failure?.reason).toContain('30000x30000');
    const truncated = await run(task('truncated.jpg'));
    expect(truncated.failure?.code).toBe('IMAGE_INVALID');
    const text = await run(task('notes.txt'));
    expect(text.failure?.code).toBe('IMAGE_INVALID');
    expect(text.failure?.reason).toMatch(/unsupported image format/i);
    const missing = await run(task('nothing.jpg'));
    expect(missing.failure?.code).toBe('SOURCE_MISSING');
  });

  it('stays inside its allow-list: a source or destination elsewhere is dead-lettered and nothing is read or written', async () => {
    const other = `other-${Date.now().toString(36)}`;
    const others = await createTestBucket(s3, { name: other });
    await others.put('secret.jpg', await photo(64, 48));
    await files.put('in/mine.jpg', await photo(64, 48));
    const readElsewhere = await run({
      source: `s3://${other}/secret.jpg`,
      destination: `s3://${bucket}/out/stolen/`,
      variants: [{ name: 'copy', format: 'png' }],
    });
    expect(readElsewhere.failure?.code).toBe('LOCATION_NOT_ALLOWED');
    const writeElsewhere = await run({
      source: `s3://${bucket}/in/mine.jpg`,
      destination: `s3://${other}/planted/`,
      variants: [{ name: 'copy', format: 'png' }],
    });
    expect(writeElsewhere.failure?.code).toBe('LOCATION_NOT_ALLOWED');
    expect(writeElsewhere.failure?.reason).toMatch(/destination s3:\/\/other-.* is outside/);
    expect(await files.count('out/stolen/')).toBe(0);
    expect(await others.count('planted/')).toBe(0);
  });

  it('refuses outputs whose pixels add up past the limit before rendering any', async () => {
    await files.put('in/tiny.jpg', await photo(64, 48));
    const huge = await run({
      source: `s3://${bucket}/in/tiny.jpg`,
      destination: `s3://${bucket}/out/huge/`,
      variants: [
        { name: 'poster', width: 16384, height: 16384, fit: 'fill', withoutEnlargement: false, format: 'png' },
      ],
    });
    expect(huge.failure?.code).toBe('OUTPUT_TOO_LARGE');
    expect(huge.failure?.reason).toContain('268435456 pixels');
    // Without enlargement (the default) the same request is as small as its source.
    const kept = await run({
      source: `s3://${bucket}/in/tiny.jpg`,
      destination: `s3://${bucket}/out/kept-small/`,
      variants: [{ name: 'poster', width: 16384, height: 16384, format: 'png' }],
    });
    expect(kept.result?.variants[0]).toMatchObject({ width: 64, height: 48 });
  });

  it('rejects a source over the byte limit at once, dead-letters a missing destination bucket, and retries a failing S3 write', async () => {
    const { queue } = await createQueueWithDlq(local.sqs, { maxReceiveCount: 3 });
    const limited = createImageWorker({
      s3,
      maxBytes: 10_000,
      s3Allow: [bucket, 'no-such-bucket-tq'],
      worker: {
        sqs: local.sqs,
        ...testWorkerOptions(queue.url, { retryAtOnce: true }),
      },
    });
    const outcomes = new Map<string, { code: string; reason: string; attempt: number }>();
    const retries: { id: string | undefined; attempt: number }[] = [];
    limited.on('dead-lettered', ({ id, code, reason, attempt }) => outcomes.set(id ?? '', { code, reason, attempt }));
    limited.on('retrying', ({ id, attempt }) => retries.push({ id, attempt }));
    await limited.start();
    const send = async (payload: TaskPayloads['process_image'], url = queue.url) => {
      const envelope = createTask('process_image', payload);
      await local.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: encodeMessageBody(envelope) }));
      for (;;) {
        const outcome = outcomes.get(envelope.id);
        if (outcome) return { id: envelope.id, ...outcome };
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    try {
      await files.put('in/large.jpg', await photo(800, 600));
      const large = await send({
        source: `s3://${bucket}/in/large.jpg`,
        destination: `s3://${bucket}/out/large/`,
        variants: [{ name: 'thumb', width: 100, format: 'webp' }],
      });
      expect(large).toMatchObject({ code: 'IMAGE_TOO_LARGE', attempt: 1 });
      expect(large.reason).toContain('over the 10000-byte limit');

      const small = sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } });
      await files.put('in/small.png', await small.png().toBuffer());
      // The destination bucket does not exist: no retry can fix that (the same class as in every app).
      const unwritable = await send({
        source: `s3://${bucket}/in/small.png`,
        destination: 's3://no-such-bucket-tq/out/',
        variants: [{ name: 'thumb', width: 4, format: 'png' }],
      });
      expect(unwritable).toMatchObject({ code: 'DESTINATION_UNWRITABLE', attempt: 1 });
      expect(retries.filter((retry) => retry.id === unwritable.id)).toEqual([]);
    } finally {
      await limited.stop();
    }

    // A server fault on the write (simulated by a client middleware: the local endpoint does not fail on demand) may pass: retried.
    const { queue: faulty } = await createQueueWithDlq(local.sqs, { maxReceiveCount: 3 });
    const failingS3 = new S3Client({ ...local.endpoint.clientConfig, maxAttempts: 1 });
    injectAwsFault(failingS3, (command) => command === 'PutObjectCommand', { name: 'InternalError', status: 500 });
    const retrying = createImageWorker({
      s3: failingS3,
      s3Allow: [bucket],
      worker: {
        sqs: local.sqs,
        ...testWorkerOptions(faulty.url, { retryAtOnce: true }),
      },
    });
    retrying.on('dead-lettered', ({ id, code, reason, attempt }) => outcomes.set(id ?? '', { code, reason, attempt }));
    retrying.on('retrying', ({ id, attempt }) => retries.push({ id, attempt }));
    await retrying.start();
    try {
      const failing = await send(
        {
          source: `s3://${bucket}/in/small.png`,
          destination: `s3://${bucket}/out/failing/`,
          variants: [{ name: 'thumb', width: 4, format: 'png' }],
        },
        faulty.url,
      );
      expect(retries.filter((retry) => retry.id === failing.id).map((retry) => retry.attempt)).toEqual([1, 2]);
      expect(failing).toMatchObject({ code: 'RETRIES_EXHAUSTED', attempt: 3 });
    } finally {
      await retrying.stop();
      failingS3.destroy();
    }
  });
});
