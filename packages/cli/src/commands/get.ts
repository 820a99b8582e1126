import { createWriteStream, existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { classifyAwsError, parseS3Location, S3LocationError } from '@tq/aws';
import { awsClientSettings, readEnvironment } from '@tq/contracts';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { displayPath } from '../local-stack.js';

/** Where `tq get` writes an object: stdout for `-`, inside a folder by the key's name, or that file. */
export function destinationOf(key: string, dest: string | undefined): string | '-' {
  if (dest === '-') return '-';
  const name = basename(key);
  if (dest === undefined) return name;
  return existsSync(dest) && statSync(dest).isDirectory() ? join(dest, name) : dest;
}

/** `tq get s3://bucket/key [dest]`: downloads one object (a result, an input) without the aws CLI. */
export function registerGet(program: Command): void {
  program
    .command('get')
    .description('download an object from the bucket: a result, an input or a claim check')
    .argument('<uri>', 's3://bucket/key')
    .argument('[dest]', 'a file, a folder (the key name inside it) or - for stdout; default: the key name here')
    .option('-f, --force', 'overwrite the file if it exists')
    .action(async (uri: string, dest: string | undefined, options: { force?: boolean }) => {
      let location: { bucket: string; key: string };
      try {
        location = parseS3Location(uri);
      } catch (error) {
        if (error instanceof S3LocationError) throw new UsageError(error.message);
        throw error;
      }
      if (location.key.endsWith('/')) {
        throw new UsageError(`${uri} is a prefix, not an object: name one object (\`tq results\` lists recent ones)`);
      }
      const target = destinationOf(location.key, dest);
      if (target !== '-' && existsSync(target) && !options.force) {
        throw new UsageError(`${displayPath(target)} exists: give another destination, or --force to overwrite it`);
      }
      // No project needed: an object is read by its URI alone.
      const s3 = new S3Client({ ...awsClientSettings(readEnvironment()), maxAttempts: 2 });
      try {
        const object = await s3
          .send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }))
          .catch((error: unknown) => {
            if (classifyAwsError(error) === 'not-found') throw new Error(`${uri} does not exist`);
            throw error;
          });
        const body = object.Body as Readable;
        if (target === '-') {
          await pipeline(body, process.stdout, { end: false });
          return;
        }
        await pipeline(body instanceof Readable ? body : Readable.from(body), createWriteStream(target));
        console.error(
          `tq: ${uri} -> ${displayPath(target)} (${object.ContentLength ?? '?'} bytes, ${object.ContentType ?? 'no type'})`,
        );
      } finally {
        s3.destroy();
      }
    });
}
