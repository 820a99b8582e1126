import { availableParallelism } from 'node:os';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ImageVariant, ProcessImageV1 } from '@tq/contracts';
import {
  checkS3Location,
  createWorker,
  type EnvNumberSpec,
  type HandlerContext,
  NonRetryableError,
  openS3Input,
  resolveS3Allow,
  type S3AllowList,
  s3WriteFailure,
  type Worker,
  type WorkerAppDeps,
} from '@tq/worker';
import sharp, { type Metadata, type OutputInfo } from 'sharp';

/**
 * The one table of the image worker's bounds: default, allowed range and variable of each (the
 * README's limits). `main.ts` reads the variables with it.
 */
export const IMAGE_LIMITS = {
  maxBytes: { env: 'IMAGE_MAX_BYTES', default: 50 * 1024 * 1024, min: 1, max: 2 ** 31 },
  maxPixels: { env: 'IMAGE_MAX_PIXELS', default: 100_000_000, min: 1, max: 2 ** 32 },
  maxOutputPixels: { env: 'IMAGE_MAX_OUTPUT_PIXELS', default: 100_000_000, min: 1, max: 2 ** 32 },
} as const satisfies Record<string, EnvNumberSpec>;

/** What `createImageWorker` takes; the worker's `concurrency` defaults to the number of cores. */
export interface ImageWorkerDeps extends WorkerAppDeps<'process_image'> {
  /** Largest source file in bytes; larger ones are dead-lettered. Default 50 MiB. */
  maxBytes?: number;
  /** Largest source in pixels (width × height), the guard against decompression bombs. Default 100 megapixels. */
  maxPixels?: number;
  /** Most pixels the variants of one task may add up to, checked before any is rendered. Default 100 megapixels. */
  maxOutputPixels?: number;
}

/** One written variant. */
export interface VariantResult {
  name: string;
  uri: string;
  format: ImageVariant['format'];
  width: number;
  height: number;
  bytes: number;
}

/** What the handler reports (logged, and in the worker's `succeeded` event). */
export interface ImageResult {
  source: { uri: string; bytes: number; width: number; height: number; format: string };
  variants: VariantResult[];
}

const EXTENSIONS: Record<ImageVariant['format'], string> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif' };
const CONTENT_TYPES: Record<ImageVariant['format'], string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
};

/**
 * Sets sharp up for a worker: one libvips thread per operation and no operation cache. The
 * worker runs one sharp operation per task at a time, so `concurrency` tasks keep that many
 * cores busy without oversubscribing them, and memory is bounded by concurrency × image size.
 */
export function configureSharp(): void {
  sharp.concurrency(1);
  sharp.cache(false);
}

/** Reads a source into memory, refusing it as soon as it exceeds `maxBytes`. */
async function readSource(
  s3: S3Client,
  uri: string,
  options: { allow: S3AllowList; maxBytes: number; signal: AbortSignal },
): Promise<Buffer> {
  const { body } = await openS3Input(s3, uri, {
    ...options,
    label: 'source',
    code: 'SOURCE',
    tooLargeCode: 'IMAGE_TOO_LARGE',
  });
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += (chunk as Buffer).length;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, bytes);
}

/**
 * The most pixels a variant of a `width` × `height` source (after EXIF rotation) can have, worked
 * out before anything is rendered: `cover`, `contain` and `fill` with both sides give exactly
 * that box (never more); otherwise the aspect ratio is kept, and without enlargement the source
 * size is the ceiling.
 */
export function variantPixels(width: number, height: number, variant: ImageVariant): number {
  const w = variant.width;
  const h = variant.height;
  if (w === undefined && h === undefined) return width * height;
  const fit = variant.fit ?? 'inside';
  if (w !== undefined && h !== undefined && (fit === 'cover' || fit === 'contain' || fit === 'fill')) return w * h;
  let scale: number;
  if (w === undefined) scale = (h as number) / height;
  else if (h === undefined) scale = w / width;
  else scale = fit === 'inside' ? Math.min(w / width, h / height) : Math.max(w / width, h / height);
  if (variant.withoutEnlargement ?? true) scale = Math.min(1, scale);
  return Math.ceil(width * scale) * Math.ceil(height * scale);
}

/** Errors from decoding a source: the file itself is the problem, so retrying cannot help. */
function invalidImage(uri: string, error: unknown): NonRetryableError {
  const message = (error as Error).message ?? String(error);
  if (/pixel limit/i.test(message)) {
    return new NonRetryableError(`source ${uri} has too many pixels: ${message}`, {
      code: 'IMAGE_TOO_LARGE',
      cause: error,
    });
  }
  return new NonRetryableError(`source ${uri} is not a usable image: ${message}`, {
    code: 'IMAGE_INVALID',
    cause: error,
  });
}

/**
 * Creates the `process_image` worker: the source is read from S3 as a stream (with a byte
 * limit), checked against the pixel limit from its header before decoding, and each variant is
 * rendered by sharp (auto-oriented by EXIF, resized with the requested fit, re-encoded, metadata
 * such as GPS stripped unless `keepMetadata`) and written to `<destination><name>.<ext>` with
 * its content type. Corrupt, unsupported or oversized sources are dead-lettered; S3 failures
 * are retried.
 */
export function createImageWorker(deps: ImageWorkerDeps): Worker<'process_image'> {
  const maxBytes = deps.maxBytes ?? IMAGE_LIMITS.maxBytes.default;
  const maxPixels = deps.maxPixels ?? IMAGE_LIMITS.maxPixels.default;
  const maxOutputPixels = deps.maxOutputPixels ?? IMAGE_LIMITS.maxOutputPixels.default;
  const allow = resolveS3Allow(deps.s3Allow ?? deps.worker?.s3Allow, { prefix: deps.worker?.prefix });
  configureSharp();

  const handler = async (task: ProcessImageV1, context: HandlerContext<'process_image'>): Promise<ImageResult> => {
    // Both locations are checked before any S3 call.
    const { bucket, key: prefix } = checkS3Location(allow, task.destination, 'destination', { prefix: true });
    const input = await readSource(deps.s3, task.source, { allow, maxBytes, signal: context.signal });
    const options = { limitInputPixels: maxPixels, failOn: 'error' as const };
    let metadata: Metadata;
    try {
      // Reads the header only, so even a bomb is safe to measure; the limit is checked below.
      metadata = await sharp(input, { ...options, limitInputPixels: false }).metadata();
    } catch (error) {
      throw invalidImage(task.source, error);
    }
    const pixels = (metadata.width ?? 0) * (metadata.height ?? 0);
    if (pixels > maxPixels) {
      throw new NonRetryableError(
        `source ${task.source} is ${metadata.width}x${metadata.height} (${pixels} pixels), over the ${maxPixels}-pixel limit`,
        { code: 'IMAGE_TOO_LARGE' },
      );
    }
    const oriented = {
      width: metadata.autoOrient?.width ?? metadata.width ?? 0,
      height: metadata.autoOrient?.height ?? metadata.height ?? 0,
    };
    const source = task.autoOrient === false ? { width: metadata.width ?? 0, height: metadata.height ?? 0 } : oriented;
    let outputPixels = 0;
    for (const variant of task.variants) outputPixels += variantPixels(source.width, source.height, variant);
    if (outputPixels > maxOutputPixels) {
      throw new NonRetryableError(
        `the ${task.variants.length} variant(s) would be ${outputPixels} pixels in all, over the ${maxOutputPixels}-pixel limit`,
        { code: 'OUTPUT_TOO_LARGE' },
      );
    }

    const variants: VariantResult[] = [];
    const uploads: Promise<unknown>[] = [];
    for (const variant of task.variants) {
      context.signal.throwIfAborted();
      let pipeline = sharp(input, options);
      if (task.autoOrient !== false) pipeline = pipeline.autoOrient();
      if (variant.width !== undefined || variant.height !== undefined) {
        pipeline = pipeline.resize({
          ...(variant.width !== undefined ? { width: variant.width } : {}),
          ...(variant.height !== undefined ? { height: variant.height } : {}),
          fit: variant.fit ?? 'inside',
          withoutEnlargement: variant.withoutEnlargement ?? true,
          ...(variant.background ? { background: variant.background } : {}),
        });
      }
      if (variant.background && (variant.format === 'jpeg' || variant.fit === 'contain')) {
        pipeline = pipeline.flatten({ background: variant.background });
      }
      if (task.keepMetadata) pipeline = pipeline.keepMetadata();
      const quality = variant.quality !== undefined ? { quality: variant.quality } : {};
      pipeline = pipeline.toFormat(variant.format, variant.format === 'jpeg' ? { ...quality, mozjpeg: true } : quality);
      let output: { data: Buffer; info: OutputInfo };
      try {
        output = await pipeline.toBuffer({ resolveWithObject: true });
      } catch (error) {
        throw invalidImage(task.source, error);
      }
      const key = `${prefix}${variant.name}.${EXTENSIONS[variant.format]}`;
      // The upload runs while the next variant renders; all of them are awaited before success.
      const upload = deps.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: output.data,
          ContentType: CONTENT_TYPES[variant.format],
          Metadata: {
            'tq-task-id': context.id,
            'tq-width': String(output.info.width),
            'tq-height': String(output.info.height),
          },
        }),
        { abortSignal: context.signal },
      );
      const uri = `s3://${bucket}/${key}`;
      uploads.push(
        upload.catch((error: unknown) => {
          throw s3WriteFailure(error, uri);
        }),
      );
      uploads.at(-1)?.catch(() => undefined);
      variants.push({
        name: variant.name,
        uri: `s3://${bucket}/${key}`,
        format: variant.format,
        width: output.info.width,
        height: output.info.height,
        bytes: output.info.size,
      });
    }
    await Promise.all(uploads);
    return {
      source: {
        uri: task.source,
        bytes: input.byteLength,
        width: oriented.width,
        height: oriented.height,
        format: metadata.format ?? 'unknown',
      },
      variants,
    };
  };
  return createWorker({
    ...deps.worker,
    s3Allow: allow,
    concurrency: deps.worker?.concurrency ?? availableParallelism(),
    task: 'process_image',
    handler,
  });
}
