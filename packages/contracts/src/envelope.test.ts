import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent, TRACEPARENT_PATTERN } from './envelope.js';

describe('traceparent', () => {
  it('formats and parses W3C version 00, as the producer writes it and the worker reads it', () => {
    const parts = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };
    const header = formatTraceparent(parts);
    expect(header).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(new RegExp(TRACEPARENT_PATTERN).test(header)).toBe(true);
    expect(parseTraceparent(header)).toEqual(parts);
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBeUndefined();
    expect(parseTraceparent(undefined)).toBeUndefined();
  });
});
