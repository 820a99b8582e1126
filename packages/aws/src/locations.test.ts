import { describe, expect, it } from 'vitest';
import { createS3AllowList, parseS3Location, readS3AllowList } from './locations.js';

describe('parseS3Location', () => {
  it('splits valid object and prefix locations', () => {
    expect(parseS3Location('s3://tq-artifacts/a/b.csv')).toEqual({ bucket: 'tq-artifacts', key: 'a/b.csv' });
    expect(parseS3Location('s3://tq-artifacts/', { prefix: true })).toEqual({ bucket: 'tq-artifacts', key: '' });
    expect(parseS3Location('s3://tq-artifacts/out/x/', { prefix: true }).key).toBe('out/x/');
    expect(parseS3Location('s3://tq-artifacts/a..b/.hidden').key).toBe('a..b/.hidden');
  });

  it.each([
    's3://tq-artifacts/../secret.txt',
    's3://tq-artifacts/a/../../b',
    's3://tq-artifacts/./a',
    's3://tq-artifacts/a//b',
    's3://tq-artifacts/a/.',
    's3://tq-artifacts/',
    's3://Bad_Bucket/a',
    'http://tq-artifacts/a',
    's3://tq-artifacts',
    's3://tq-artifacts/a\ud800b',
  ])('refuses %s as INVALID_LOCATION', (uri) => {
    expect(() => parseS3Location(uri)).toThrow(expect.objectContaining({ code: 'INVALID_LOCATION', uri }));
  });

  it('refuses dot segments in prefixes too', () => {
    expect(() => parseS3Location('s3://tq-artifacts/../', { prefix: true })).toThrow(/segment "\.\."/);
    expect(() => parseS3Location('s3://tq-artifacts//', { prefix: true })).toThrow(/segment ""/);
  });
});

describe('S3 allow-lists', () => {
  const allowed = createS3AllowList(['tq-artifacts', 's3://shared/team-a']);

  it('admits whole buckets and keys under a prefix, never a sibling prefix or another bucket', () => {
    expect(allowed.entries).toEqual(['tq-artifacts', 'shared/team-a/']);
    expect(allowed.allows('s3://tq-artifacts/any/key.png')).toBe(true);
    expect(allowed.allows('s3://shared/team-a/in.csv')).toBe(true);
    expect(allowed.allows('s3://shared/team-ab/in.csv')).toBe(false);
    expect(allowed.allows('s3://shared/secret.txt')).toBe(false);
    expect(allowed.allows('s3://other-bucket/secret.txt')).toBe(false);
    expect(allowed.allows('s3://shared/team-a/../secret.txt')).toBe(false);
  });

  it('check() names what was refused and how to allow it', () => {
    expect(allowed.check('s3://shared/team-a/out/', 'destination', { prefix: true })).toEqual({
      bucket: 'shared',
      key: 'team-a/out/',
    });
    expect(() => allowed.check('s3://other-bucket/secret.txt', 'attachment')).toThrow(
      expect.objectContaining({
        code: 'LOCATION_NOT_ALLOWED',
        message: expect.stringMatching(/^attachment s3:\/\/other-bucket\/secret.txt is outside .*TQ_S3_ALLOW/),
      }),
    );
  });

  it('reads TQ_S3_ALLOW with the artifacts bucket as the default', () => {
    expect(readS3AllowList(undefined, 'tq-artifacts').entries).toEqual(['tq-artifacts']);
    expect(readS3AllowList(' ', 'tq-artifacts').entries).toEqual(['tq-artifacts']);
    expect(readS3AllowList('a-bucket, b-bucket/in/', 'tq-artifacts').entries).toEqual(['a-bucket', 'b-bucket/in/']);
    expect(() => readS3AllowList('good-bucket,../x', 'tq-artifacts')).toThrow(/not an s3/);
    expect(() => createS3AllowList([])).toThrow(TypeError);
  });
});
