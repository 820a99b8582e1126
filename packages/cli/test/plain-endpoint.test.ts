import { randomUUID } from 'node:crypto';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { localClientConfig, startDynamoDb, uniqueName } from '@tq/testing';
import { buildApp } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTq } from './run-cli.js';

const email = { to: ['ada@example.com'], subject: 'Hi', text: 'Hello' };

/**
 * Plain fauxqs, as a user would run it, not through tq's wrapper: SQS, SNS and S3 only, like
 * ElasticMQ-style endpoints. It serves no DynamoDB and no EventBridge Scheduler.
 */
async function startPlainFauxqs() {
  const app = buildApp({ logger: false });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { endpoint: `http://127.0.0.1:${new URL(address).port}`, stop: () => app.close() };
}

describe('an endpoint tq did not write: SQS, SNS and S3 without DynamoDB or Scheduler (plain fauxqs)', () => {
  let plain: Awaited<ReturnType<typeof startPlainFauxqs>>;
  beforeAll(async () => {
    plain = await startPlainFauxqs();
  });
  afterAll(() => plain.stop());
  const env = (prefix: string) => ({ TQ_ENDPOINT: plain.endpoint, TQ_PREFIX: prefix, TQ_BUCKET: '' });

  it('tq provision creates what it can, exits 0 and says in one line what is off and how to turn it on', async () => {
    const prefix = uniqueName('plain');
    const provisioned = await runTq(['provision'], env(prefix));
    expect(provisioned.code, provisioned.output).toBe(0);
    const offLines = provisioned.output.split('\n').filter((line) => line.includes(' are off '));
    expect(offLines).toEqual([
      `tq: ${plain.endpoint} serves no DynamoDB and no EventBridge Scheduler: task status, idempotency, schedules and sends beyond 15 minutes are off (point TQ_DYNAMODB_ENDPOINT and TQ_SCHEDULER_ENDPOINT at an endpoint that serves them to turn them on)`,
    ]);
    expect(provisioned.output).not.toContain('create table');
    expect(provisioned.output).not.toMatch(/Unknown action|InvalidAction/);
    const sqs = new SQSClient(localClientConfig(plain.endpoint));
    try {
      const queues = (await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls ?? [];
      expect(queues.some((url) => url.endsWith(`/${prefix}-send_email`))).toBe(true);
      expect(queues.some((url) => url.endsWith(`/${prefix}-send_email-dlq`))).toBe(true);
    } finally {
      sqs.destroy();
    }
    // Again: nothing left to change, and still said.
    const again = await runTq(['provision'], env(prefix));
    expect(again.code).toBe(0);
    expect(again.output).toContain(`tq: ${prefix} is up to date on ${plain.endpoint}`);
    expect(again.output).toContain('serves no DynamoDB');
  });

  it('tq send works; tq status and tq send --at fail with one line that names the fix', async () => {
    const prefix = uniqueName('plain');
    expect((await runTq(['provision'], env(prefix))).code).toBe(0);
    const sent = await runTq(['send', 'send_email', JSON.stringify(email)], env(prefix));
    expect(sent.code, sent.output).toBe(0);
    const id = sent.output.split('\n')[0]?.trim() ?? '';

    const status = await runTq(['status', id], env(prefix));
    expect(status.code).toBe(1);
    expect(status.output.trim().split('\n')).toEqual([
      'tq: task status is not tracked here: the endpoint serves no DynamoDB (set TQ_DYNAMODB_ENDPOINT to a DynamoDB endpoint such as dynalite or DynamoDB Local, then run `tq provision`)',
    ]);

    const at = new Date(Date.now() + 3_600_000).toISOString();
    const later = await runTq(['send', 'send_email', JSON.stringify(email), '--at', at], env(prefix));
    expect(later.code).toBe(1);
    expect(later.output.trim().split('\n')).toEqual([
      'tq: sends beyond 15 minutes need EventBridge Scheduler, and this endpoint serves none: set TQ_SCHEDULER_ENDPOINT to one (the endpoint of `tq up` serves it), or send within 15 minutes',
    ]);
  });

  it('with TQ_DYNAMODB_ENDPOINT at a separate DynamoDB: tables go there, status works, only schedules are off', async () => {
    await using dynamodb = await startDynamoDb();
    const prefix = uniqueName('mixed');
    const mixed = { ...env(prefix), TQ_DYNAMODB_ENDPOINT: dynamodb.endpoint };
    const provisioned = await runTq(['provision'], mixed);
    expect(provisioned.code, provisioned.output).toBe(0);
    expect(provisioned.output).toContain(`+ create table ${prefix}-task-status`);
    expect(provisioned.output).toContain(`+ create table ${prefix}-idempotency`);
    expect(provisioned.output).toContain(
      `tq: ${plain.endpoint} serves no EventBridge Scheduler: schedules and sends beyond 15 minutes are off (point TQ_SCHEDULER_ENDPOINT at an endpoint that serves it to turn them on)`,
    );
    const sent = await runTq(['send', 'send_email', JSON.stringify(email)], mixed);
    expect(sent.code, sent.output).toBe(0);
    const id = sent.output.split('\n')[0]?.trim() ?? '';
    // `tq send` recorded `sent` in the separate DynamoDB.
    const status = await runTq(['status', id], mixed);
    expect(status.code, status.output).toBe(0);
    expect(status.output).toContain(`send_email ${id}: sent`);
    const unknown = await runTq(['status', randomUUID()], mixed);
    expect(unknown.output).toContain('never recorded here');
  });
});
