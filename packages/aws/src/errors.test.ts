import { describe, expect, it } from 'vitest';
import {
  AWS_ERROR_NAMES,
  type AwsErrorClass,
  classifyAwsError,
  isRetryableAwsError,
  isServiceMissingError,
} from './errors.js';

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

describe('isServiceMissingError', () => {
  it('tells "this endpoint does not serve the service" from outages and ordinary errors', () => {
    // What plain fauxqs answers a DynamoDB call, and what it answers a Scheduler call (seen there).
    expect(
      isServiceMissingError(named('InvalidAction', { $metadata: { httpStatusCode: 400 }, $fault: 'client' })),
    ).toBe(true);
    expect(
      isServiceMissingError(
        named('SyntaxError', { $metadata: { httpStatusCode: 404 }, $response: { statusCode: 404 } }),
      ),
    ).toBe(true);
    expect(isServiceMissingError(named('UnknownOperationException'))).toBe(true);
    expect(isServiceMissingError(named('Weird', { $metadata: { httpStatusCode: 501 } }))).toBe(true);
    // A missing table, an outage, throttling, a plain syntax error in our own code: not "missing".
    expect(isServiceMissingError(named('ResourceNotFoundException', { $metadata: { httpStatusCode: 400 } }))).toBe(
      false,
    );
    expect(isServiceMissingError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(
      false,
    );
    expect(isServiceMissingError(named('InternalError', { $metadata: { httpStatusCode: 500 } }))).toBe(false);
    expect(isServiceMissingError(named('ThrottlingException', { $metadata: { httpStatusCode: 400 } }))).toBe(false);
    expect(isServiceMissingError(new SyntaxError('Unexpected token'))).toBe(false);
    expect(isServiceMissingError(undefined)).toBe(false);
  });
});
