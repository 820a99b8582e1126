import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { type LocalEndpoint, startLocalEndpoint } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_PART_SIZE, PartWriter } from '../src/upload.js';

describe('PartWriter against the local endpoint', () => {
  let endpoint: LocalEndpoint;
  let s3: S3Client;
  const bucket = `parts-${Date.now().toString(36)}`;
  const read = async (key: string) =>
    (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString('utf8');

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    s3 = new S3Client({ ...endpoint.clientConfig, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    s3.destroy();
    await endpoint.stop();
  });

  it('uploads text written in pieces of any size as parts, multi-byte characters split across parts intact', async () => {
    const writer = new PartWriter(s3, { bucket, key: 'big.csv', contentType: 'text/csv', partSize: MIN_PART_SIZE });
    const pieces: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 2.5 * MIN_PART_SIZE; i += 1) {
      // Odd lengths and 2-, 3- and 4-byte characters, so part boundaries fall inside characters.
      const piece = `${i},é€😀,${'x'.repeat(i % 997)}\n`;
      pieces.push(piece);
      bytes += Buffer.byteLength(piece);
      await writer.write(piece);
    }
    await writer.finish();
    expect(await read('big.csv')).toBe(pieces.join(''));
  });

  it('sends a small object with one PutObject, and an empty one too', async () => {
    const small = new PartWriter(s3, { bucket, key: 'small.csv', contentType: 'text/csv', partSize: MIN_PART_SIZE });
    await small.write('a,b\n');
    await small.write('1,2\n');
    await small.finish();
    expect(await read('small.csv')).toBe('a,b\n1,2\n');
    const empty = new PartWriter(s3, { bucket, key: 'empty.csv', contentType: 'text/csv', partSize: MIN_PART_SIZE });
    await empty.finish();
    expect(await read('empty.csv')).toBe('');
  });

  it('abort drops a started multipart upload: no object, no upload left open', async () => {
    const writer = new PartWriter(s3, { bucket, key: 'dropped.csv', contentType: 'text/csv', partSize: MIN_PART_SIZE });
    await writer.write('y'.repeat(MIN_PART_SIZE + 10));
    await writer.abort();
    await expect(read('dropped.csv')).rejects.toMatchObject({ name: 'NoSuchKey' });
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect((uploads.Uploads ?? []).filter((upload) => upload.Key === 'dropped.csv')).toEqual([]);
  });

  it('surfaces a failed upload as an error of write or finish, not a hang', async () => {
    const big = new PartWriter(s3, {
      bucket: 'no-such-bucket',
      key: 'x',
      contentType: 'text/csv',
      partSize: MIN_PART_SIZE,
    });
    await expect(big.write('z'.repeat(MIN_PART_SIZE * 2 + 1))).rejects.toMatchObject({ name: 'NoSuchBucket' });
    const small = new PartWriter(s3, {
      bucket: 'no-such-bucket',
      key: 'x',
      contentType: 'text/csv',
      partSize: MIN_PART_SIZE,
    });
    await small.write('a\n');
    await expect(small.finish()).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('refuses parts below the S3 minimum', () => {
    expect(() => new PartWriter(s3, { bucket, key: 'x', contentType: 'text/csv', partSize: 1024 })).toThrow(RangeError);
  });
});
