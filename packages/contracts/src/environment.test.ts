import { describe, expect, it } from 'vitest';
import {
  awsClientSettings,
  ConfigError,
  copyQueueName,
  dlqName,
  queueName,
  readEnvironment,
  topicName,
} from './index.js';

describe('readEnvironment', () => {
  it('defaults to real AWS in us-east-1 with prefix tq', () => {
    expect(readEnvironment({})).toEqual({
      endpoint: undefined,
      region: 'us-east-1',
      prefix: 'tq',
      bucket: 'tq-artifacts',
      fifoTasks: [],
      activemq: undefined,
      topicArn: undefined,
    });
  });

  it('reads every variable', () => {
    expect(
      readEnvironment({
        TQ_ENDPOINT: 'http://127.0.0.1:4566',
        AWS_REGION: 'eu-west-1',
        TQ_PREFIX: 'Shop_prod',
        TQ_BUCKET: 'shop-files',
      }),
    ).toEqual({
      endpoint: 'http://127.0.0.1:4566',
      region: 'eu-west-1',
      prefix: 'Shop_prod',
      bucket: 'shop-files',
      fifoTasks: [],
      activemq: undefined,
      topicArn: undefined,
    });
    expect(readEnvironment({ TQ_FIFO_TASKS: ' send_email, generate_report ,' }).fifoTasks).toEqual([
      'send_email',
      'generate_report',
    ]);
    expect(readEnvironment({ TQ_PREFIX: 'Shop_prod' }).bucket).toBe('shop-prod-artifacts');
    expect(readEnvironment({ TQ_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:shop-tasks' }).topicArn).toBe(
      'arn:aws:sns:eu-west-1:123456789012:shop-tasks',
    );
  });

  it('gives the ActiveMQ bridge every task, or the ones TQ_ACTIVEMQ_TASKS names, once a broker is configured', () => {
    expect(readEnvironment({ TQ_ACTIVEMQ_URL: 'stomp://127.0.0.1:61613' }).activemq).toEqual({ tasks: 'all' });
    expect(readEnvironment({ TQ_ACTIVEMQ: '1' }).activemq).toEqual({ tasks: 'all' });
    expect(readEnvironment({ TQ_ACTIVEMQ: '0' }).activemq).toBeUndefined();
    expect(
      readEnvironment({ TQ_ACTIVEMQ_URL: 'stomp://mq:61613', TQ_ACTIVEMQ_TASKS: 'send_email, generate_report' })
        .activemq,
    ).toEqual({ tasks: ['send_email', 'generate_report'] });
    expect(() => readEnvironment({ TQ_ACTIVEMQ_TASKS: 'send email' })).toThrow(/TQ_ACTIVEMQ_TASKS names "send email"/);
    expect(copyQueueName('tq', 'send_email', 'activemq')).toBe('tq-send_email-activemq');
  });

  it.each([
    [{ TQ_ENDPOINT: 'localhost:4566' }, /TQ_ENDPOINT is "localhost:4566", must be an http\(s\) URL/],
    [{ AWS_REGION: 'Europe' }, /AWS_REGION is "Europe"/],
    [{ TQ_PREFIX: 'a b' }, /TQ_PREFIX is "a b"/],
    [{ TQ_BUCKET: 'Bad_Bucket' }, /TQ_BUCKET is "Bad_Bucket"/],
    [{ TQ_FIFO_TASKS: 'send_email;x' }, /TQ_FIFO_TASKS names "send_email;x"/],
    [{ TQ_TOPIC_ARN: 'tq-tasks' }, /TQ_TOPIC_ARN is "tq-tasks", must be an SNS topic ARN/],
  ])('rejects %j with a message naming the variable', (env, message) => {
    expect(() => readEnvironment(env)).toThrow(ConfigError);
    expect(() => readEnvironment(env)).toThrow(message);
  });

  it('names resources as DESIGN.md does', () => {
    expect(topicName('tq')).toBe('tq-tasks');
    expect(queueName('tq', 'send_email')).toBe('tq-send_email');
    expect(dlqName('tq', 'send_email')).toBe('tq-send_email-dlq');
    expect(queueName('tq', 'send_email', true)).toBe('tq-send_email.fifo');
    expect(dlqName('tq', 'send_email', true)).toBe('tq-send_email-dlq.fifo');
  });

  it('gives AWS clients the endpoint only when one is configured', () => {
    expect(awsClientSettings(readEnvironment({ AWS_REGION: 'eu-west-1' }), {})).toEqual({ region: 'eu-west-1' });
    expect(awsClientSettings(readEnvironment({ TQ_ENDPOINT: 'http://127.0.0.1:4566' }), {})).toEqual({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4566',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    expect(
      awsClientSettings(readEnvironment({ TQ_ENDPOINT: 'http://127.0.0.1:4566' }), { AWS_ACCESS_KEY_ID: 'AKIA' }),
    ).not.toHaveProperty('credentials');
  });
});
