import { describe, expect, it } from 'vitest';
import { envNumber, envNumbers, envString, readWorkerEnvironment, tableDefaults } from './env.js';

describe('readWorkerEnvironment', () => {
  it('applies defaults and reads every variable', () => {
    expect(readWorkerEnvironment({}, { concurrency: 4, httpPort: 9000 })).toEqual({
      concurrency: 4,
      prefetch: 0,
      visibilityTimeoutSeconds: 30,
      handlerTimeoutMs: 900_000,
      shutdownGraceMs: 25_000,
      abortWaitMs: 5_000,
      http: { port: 9000, host: '127.0.0.1' },
    });
    expect(
      readWorkerEnvironment({
        TQ_CONCURRENCY: '32',
        TQ_PREFETCH: '10',
        TQ_VISIBILITY_TIMEOUT: '120',
        TQ_HTTP_PORT: 'off',
        TQ_SHUTDOWN_GRACE_MS: '0',
      }),
    ).toMatchObject({ concurrency: 32, prefetch: 10, visibilityTimeoutSeconds: 120, http: false, shutdownGraceMs: 0 });
  });

  it('names the variable, its value and the range when a value is unusable', () => {
    expect(() => readWorkerEnvironment({ TQ_CONCURRENCY: 'lots' })).toThrow(
      'TQ_CONCURRENCY is "lots", must be an integer from 1 to 10000',
    );
    expect(() => readWorkerEnvironment({ TQ_HTTP_PORT: '70000' })).toThrow(/TQ_HTTP_PORT is "70000"/);
    expect(() => envNumber({ X: '1.5' }, 'X', { default: 1, min: 0, max: 2 })).toThrow(/must be an integer/);
    expect(envNumber({ X: '1.5' }, 'X', { default: 1, min: 0, max: 2, integer: false })).toBe(1.5);
    expect(() => envString({}, 'SMTP_URL', { describe: 'the SMTP server, e.g. smtp://mail:587' })).toThrow(
      'SMTP_URL is not set: the SMTP server, e.g. smtp://mail:587',
    );
  });
});

describe('envNumbers and tableDefaults', () => {
  const table = {
    maxBytes: { env: 'APP_MAX_BYTES', default: 1024, min: 1, max: 4096 },
    ratio: { env: 'APP_RATIO', default: 0.5, min: 0, max: 1, integer: false },
  } as const;

  it('reads every setting of a table, with its defaults', () => {
    expect(tableDefaults(table)).toEqual({ maxBytes: 1024, ratio: 0.5 });
    expect(envNumbers({}, table)).toEqual({ maxBytes: 1024, ratio: 0.5 });
    expect(envNumbers({ APP_MAX_BYTES: '2048', APP_RATIO: '0.25' }, table)).toEqual({ maxBytes: 2048, ratio: 0.25 });
  });

  it('names the variable and its range when one is out of it', () => {
    expect(() => envNumbers({ APP_MAX_BYTES: '5000' }, table)).toThrow(
      'APP_MAX_BYTES is "5000", must be an integer from 1 to 4096',
    );
  });
});
