import { describe, expect, it } from 'vitest';
import { claimCheckKey, isClaimCheckPointer, looksLikeClaimCheck } from './claim-check.js';
import { createTask } from './task.js';

const envelope = createTask('send_email', { to: ['a@example.com'], subject: 'Hi', text: 'x' });
const { payload: _payload, ...meta } = envelope;
const pointer = {
  ...meta,
  claimCheck: { uri: `s3://bucket/${claimCheckKey(envelope)}`, bytes: 120, sha256: 'a'.repeat(64) },
};

describe('claim-check pointers', () => {
  it('recognises a well-formed pointer', () => {
    expect(isClaimCheckPointer(pointer)).toBe(true);
    expect(looksLikeClaimCheck(pointer)).toBe(true);
  });

  it('rejects envelopes, and pointers with a bad digest or URI', () => {
    expect(isClaimCheckPointer(envelope)).toBe(false);
    expect(looksLikeClaimCheck(envelope)).toBe(false);
    const badDigest = { ...pointer, claimCheck: { ...pointer.claimCheck, sha256: 'xyz' } };
    expect(isClaimCheckPointer(badDigest)).toBe(false);
    expect(looksLikeClaimCheck(badDigest)).toBe(true);
    expect(isClaimCheckPointer({ ...pointer, claimCheck: { ...pointer.claimCheck, uri: 'http://x' } })).toBe(false);
  });

  it('keys objects by task and day under one prefix', () => {
    const key = claimCheckKey({ id: 'abc', task: 'send_email', createdAt: '2026-11-28T10:00:00.000Z' });
    expect(key).toBe('tq/claim-checks/send_email/2026/11/28/abc.json');
  });
});
