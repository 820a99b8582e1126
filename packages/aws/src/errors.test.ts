import { describe, expect, it } from 'vitest';
import { AWS_ERROR_NAMES, type AwsErrorClass, classifyAwsError, isRetryableAwsError } from './errors.js';

const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...extra });

describe('classifyAwsError', () => {
  it('classifies every listed name, with or without a service prefix', () => {
    for (const [kind, names] of Object.entries(AWS_ERROR_NAMES)) {
      for (const name of names) {
        expect(classifyAwsError(named(name)), name).toBe(kind);
        expect(classifyAwsError(named('Unmapped', { Code: `AWS.SimpleQueueService.${name}` })), name).toBe(kind);
      }
    }
  });

  it('falls back to the HTTP status, then the fault, then transient', () => {
    const status = (code: number, fault?: string) =>
      classifyAwsError(named('Weird', { $metadata: { httpStatusCode: code }, ...(fault ? { $fault: fault } : {}) }));
    const cases: [number, AwsErrorClass][] = [
      [403, 'forbidden'],
      [404, 'not-found'],
      [429, 'throttled'],
      [503, 'throttled'],
      [408, 'transient'],
      [400, 'invalid'],
      [413, 'invalid'],
      [500, 'transient'],
    ];
    for (const [code, kind] of cases) expect(status(code), String(code)).toBe(kind);
    expect(classifyAwsError(named('InvalidParameterValue', { $fault: 'client' }))).toBe('invalid');
    expect(classifyAwsError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('transient');
    expect(classifyAwsError('a string')).toBe('transient');
    expect(classifyAwsError(null)).toBe('transient');
  });

  it('retries what a later attempt may get past, and nothing else', () => {
    expect(isRetryableAwsError(named('ThrottlingException'))).toBe(true);
    expect(isRetryableAwsError(named('ExpiredToken'))).toBe(true);
    expect(isRetryableAwsError(named('InternalError', { $fault: 'server' }))).toBe(true);
    expect(isRetryableAwsError(named('NoSuchKey'))).toBe(false);
    expect(isRetryableAwsError(named('AccessDenied'))).toBe(false);
    expect(isRetryableAwsError(named('EntityTooLarge', { $metadata: { httpStatusCode: 400 } }))).toBe(false);
    expect(isRetryableAwsError(named('AbortError'))).toBe(false);
  });
});
