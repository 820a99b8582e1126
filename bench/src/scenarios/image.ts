import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createImageWorker } from '@tq/image-worker';
import sharp from 'sharp';
import { pool } from '../lib.js';
import { appScenario, drain, enqueue, type QueueConfig, work, workerOptions } from './app-common.js';

const VARIANTS = [
  { name: 'thumb', width: 200, height: 200, fit: 'cover' as const, format: 'webp' as const, quality: 80 },
  { name: 'medium', width: 800, format: 'jpeg' as const, quality: 82 },
  { name: 'large', width: 1600, format: 'webp' as const, quality: 80 },
];

/** 3000×2000 JPEGs with photo-like detail, made once per machine and reused. */
async function sourceImages(count: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const file = join(work, `photo-${i}.jpg`);
    try {
      readFileSync(file);
    } catch {
      const noise = await sharp({
        create: {
          width: 3000,
          height: 2000,
          channels: 3,
          background: '#777777',
          noise: { type: 'gaussian', mean: 120, sigma: 30 + i },
        },
      })
        .blur(1.2)
        .jpeg({ quality: 90 })
        .toBuffer();
      writeFileSync(file, noise);
    }
    files.push(file);
  }
  return files;
}

interface ImageConfig extends QueueConfig {
  files: string[];
}

export const image = appScenario<ImageConfig>('image', {
  async prepare(context, { queueUrl, dlqUrl, bucket }) {
    const count = context.quick ? 6 : 16;
    const files = await sourceImages(count);
    const s3 = new S3Client(context.clientConfig);
    await Promise.all(
      files.map((file, i) =>
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: `in/${i}.jpg`, Body: readFileSync(file) })),
      ),
    );
    s3.destroy();
    await enqueue(
      context.clientConfig,
      queueUrl,
      'process_image',
      files.map((_, i) => ({
        source: `s3://${bucket}/in/${i}.jpg`,
        destination: `s3://${bucket}/out/${i}/`,
        variants: VARIANTS,
      })),
    );
    return { clientConfig: context.clientConfig, queueUrl, dlqUrl, bucket, count, files };
  },
  async runWorker(config) {
    const s3 = new S3Client(config.clientConfig);
    const worker = createImageWorker({
      s3,
      worker: workerOptions(config),
    });
    const { seconds } = await drain(worker, config.count);
    return { value: config.count / seconds };
  },
  async runCeiling(config) {
    // The best plain sharp does on these cores: images from memory, one per core at a time,
    // one libvips thread per operation (no queue, no S3, no validation).
    const images = config.files.map((file) => readFileSync(file));
    sharp.concurrency(1);
    sharp.cache(false);
    const started = performance.now();
    await pool(images, availableParallelism(), async (input) => {
      for (const v of VARIANTS) {
        await sharp(input)
          .autoOrient()
          .resize({
            width: v.width,
            ...(v.height ? { height: v.height } : {}),
            fit: v.fit ?? 'inside',
            withoutEnlargement: true,
          })
          // The same encoder settings as the worker (mozjpeg for JPEG), so both make the same files.
          .toFormat(v.format, v.format === 'jpeg' ? { quality: v.quality, mozjpeg: true } : { quality: v.quality })
          .toBuffer();
      }
    });
    return { value: images.length / ((performance.now() - started) / 1000), extra: { cores: availableParallelism() } };
  },
});
