import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalEndpoint } from '@tq/local';
import { describe, expect, it } from 'vitest';
import { ObjectTooLargeError, openS3Object, readS3Object } from '../src/index.js';

describe('S3 reads with a byte limit', () => {
  it('reads objects within the limit and refuses a larger declared size before reading its body', async () => {
    await using endpoint = await startLocalEndpoint();
    const s3 = new S3Client({ ...endpoint.clientConfig, forcePathStyle: true });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'limits' }));
      await s3.send(new PutObjectCommand({ Bucket: 'limits', Key: 'small', Body: 'hello' }));
      await s3.send(new PutObjectCommand({ Bucket: 'limits', Key: 'big', Body: Buffer.alloc(3 * 1024 * 1024) }));
      expect((await readS3Object(s3, { bucket: 'limits', key: 'small' }, { maxBytes: 5 })).toString()).toBe('hello');
      const refused = await openS3Object(s3, { bucket: 'limits', key: 'big' }, { maxBytes: 1024 }).catch((e) => e);
      expect(refused).toBeInstanceOf(ObjectTooLargeError);
      expect(refused).toMatchObject({ code: 'OBJECT_TOO_LARGE', bytes: 3 * 1024 * 1024, limit: 1024 });
      const mapped = await openS3Object(
        s3,
        { bucket: 'limits', key: 'big' },
        { maxBytes: 1024, tooLarge: (error) => new RangeError(`mapped: ${error.bytes}`) },
      ).catch((e) => e);
      expect(mapped).toEqual(new RangeError(`mapped: ${3 * 1024 * 1024}`));
    } finally {
      s3.destroy();
    }
  });

  it('stops a body that never declares its size as soon as it passes the limit (a server that would send 64 MiB)', async () => {
    let written = 0;
    let closed: () => void = () => undefined;
    const aborted = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const server = createServer((_request, response) => {
      // Chunked, no Content-Length: the size is unknown until the body ends.
      response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
        response.end();
      };
      response.on('close', closed);
      pump();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const error = await readS3Object(s3, { bucket: 'liar', key: 'stream' }, { maxBytes: 256 * 1024 }).catch((e) => e);
      expect(error).toBeInstanceOf(ObjectTooLargeError);
      expect(error.bytes).toBeGreaterThan(256 * 1024);
      expect(error.bytes).toBeLessThan(1024 * 1024);
      await aborted;
      expect(written).toBeLessThan(64 * 1024 * 1024);
    } finally {
      s3.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});
