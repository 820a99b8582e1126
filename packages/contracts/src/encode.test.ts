import { describe, expect, it } from 'vitest';
import { encodeMessageBody } from './encode.js';

describe('encodeMessageBody', () => {
  it('escapes characters outside the BMP and the two SQS non-characters, and round-trips', () => {
    const value = { subject: 'Grüße 📈 — 𝄞', odd: '\uFFFE\uFFFF', plain: 'ascii' };
    const body = encodeMessageBody(value);
    expect(body).not.toMatch(/[\u{10000}-\u{10FFFF}\uFFFE\uFFFF]/u);
    expect(body).toContain('Grüße');
    expect(body).toContain('\\ud83d\\udcc8');
    expect(JSON.parse(body)).toEqual(value);
  });
});
