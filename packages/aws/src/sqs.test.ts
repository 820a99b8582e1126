import { describe, expect, it } from 'vitest';
import { copyMessageAttributes, parseRedrivePolicy } from './sqs.js';

describe('parseRedrivePolicy', () => {
  it('reads the target, its name and account, and the count as a number or a string', () => {
    const arn = 'arn:aws:sqs:eu-west-1:123456789012:tq-send_email-dlq';
    expect(parseRedrivePolicy(JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: '5' }))).toEqual({
      deadLetterTargetArn: arn,
      deadLetterQueue: { name: 'tq-send_email-dlq', account: '123456789012' },
      maxReceiveCount: 5,
    });
    expect(parseRedrivePolicy(JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 3 }))?.maxReceiveCount).toBe(
      3,
    );
    expect(parseRedrivePolicy(JSON.stringify({ deadLetterTargetArn: arn }))?.maxReceiveCount).toBeUndefined();
  });

  it('is undefined for no policy, a policy without a target, or garbage', () => {
    expect(parseRedrivePolicy(undefined)).toBeUndefined();
    expect(parseRedrivePolicy('')).toBeUndefined();
    expect(parseRedrivePolicy('{"maxReceiveCount":3}')).toBeUndefined();
    expect(parseRedrivePolicy('not json')).toBeUndefined();
  });
});

describe('copyMessageAttributes', () => {
  const attribute = (value: string) => ({ DataType: 'String', StringValue: value, StringListValues: [] });

  it('copies only what a send takes, drops names, and keeps routing attributes first when over the limit', () => {
    const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`a${i}`, attribute(String(i))]));
    const copy = copyMessageAttributes(
      { ...many, task: attribute('send_email'), 'tq-error-code': attribute('X') },
      { drop: new Set(['tq-error-code']), max: 5, first: ['task'] },
    );
    expect(Object.keys(copy)).toHaveLength(5);
    expect(copy.task).toEqual({ DataType: 'String', StringValue: 'send_email' });
    expect(copy['tq-error-code']).toBeUndefined();
    expect(copyMessageAttributes(undefined)).toEqual({});
  });
});
