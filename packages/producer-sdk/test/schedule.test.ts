import { S3Client } from '@aws-sdk/client-s3';
import { GetScheduleCommand, SchedulerClient, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { atExpression, parseTask } from '@tq/contracts';
import { type LocalEndpoint, startLocalEndpoint, uniqueName, waitForMessages } from '@tq/testing';
import { createProvisioner, defineTopology } from '@tq/topology';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducer, isProducerError } from '../src/index.js';

const email = { to: ['ada@example.com'], subject: 'Reminder', text: 'Your trial ends tomorrow' };

describe('send(..., { at }): SQS delays within 15 minutes, one-time EventBridge schedules beyond', () => {
  let endpoint: LocalEndpoint;
  let sqs: SQSClient;
  let scheduler: SchedulerClient;
  let queueUrl: string;
  const prefix = uniqueName('at');

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    sqs = new SQSClient(endpoint.clientConfig);
    scheduler = new SchedulerClient(endpoint.clientConfig);
    await createProvisioner({
      sqs,
      sns: new SNSClient(endpoint.clientConfig),
      s3: new S3Client(endpoint.clientConfig),
      topology: defineTopology({ prefix, bucket: false }),
    }).apply();
    queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-send_email` }))).QueueUrl as string;
  });
  afterAll(async () => {
    sqs.destroy();
    scheduler.destroy();
    await endpoint.stop();
  });

  const producer = () => createProducer({ endpoint: endpoint.endpoint, prefix });

  it('beyond 15 minutes: a one-time schedule holds the envelope, fires it to the topic and deletes itself', async () => {
    const at = new Date(Date.now() + 20 * 60_000);
    const sent = await producer().send('send_email', email, { at, idempotencyKey: 'trial-end-42' });
    expect(sent).toMatchObject({ route: 'schedule', scheduledFor: at.toISOString() });
    const name = `once-${sent.id}`;
    const schedule = await scheduler.send(new GetScheduleCommand({ Name: name, GroupName: prefix }));
    expect(schedule).toMatchObject({
      ScheduleExpression: atExpression(at),
      ScheduleExpressionTimezone: 'UTC',
      ActionAfterCompletion: 'DELETE',
      Target: { Arn: 'arn:aws:scheduler:::aws-sdk:sns:publish' },
    });
    const input = JSON.parse(schedule.Target?.Input ?? '{}') as { Message: string; MessageAttributes: object };
    expect(input.MessageAttributes).toMatchObject({ task: { DataType: 'String', StringValue: 'send_email' } });
    expect(parseTask(input.Message)).toMatchObject({
      ok: true,
      envelope: { id: sent.id, idempotencyKey: 'trial-end-42' },
    });

    // Twenty minutes later, as far as the schedule knows: it fires and the task arrives unchanged.
    await scheduler.send(
      new UpdateScheduleCommand({
        Name: name,
        GroupName: prefix,
        ScheduleExpression: atExpression(new Date(Date.now() + 1500)),
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'DELETE',
        Target: schedule.Target as never,
      }),
    );
    const [message] = await waitForMessages(sqs, queueUrl, 1);
    expect(parseTask(message?.Body)).toMatchObject({ ok: true, envelope: { id: sent.id, payload: email } });
    expect(endpoint.scheduler?.firings.find((firing) => firing.schedule === name)?.messageId).toBeDefined();
    const gone = await scheduler.send(new GetScheduleCommand({ Name: name, GroupName: prefix })).catch((e) => e);
    expect((gone as Error).name).toBe('ResourceNotFoundException');
  });

  it('within 15 minutes: an SQS delay to the queue; in the past: now; in a batch: each its own way', async () => {
    const soon = await producer().send('send_email', email, { at: new Date(Date.now() + 2000) });
    expect(soon.route).toBe('queue');
    const now = await producer().send('send_email', email, { at: '2020-01-01T00:00:00Z' });
    expect(now.route).toBe('topic');
    const results = await producer().sendBatch([
      { task: 'send_email', payload: email },
      { task: 'send_email', payload: email, options: { at: new Date(Date.now() + 3_600_000) } },
      { task: 'send_email', payload: email, options: { at: new Date(Date.now() + 1000) } },
    ]);
    expect(results.map((result) => result.ok && result.route)).toEqual(['topic', 'schedule', 'queue']);
    const ids = new Set([
      soon.id,
      now.id,
      ...results.filter((r) => r.ok && r.route !== 'schedule').map((r) => r.ok && r.id),
    ]);
    const messages = await waitForMessages(sqs, queueUrl, 4);
    expect(
      new Set(messages.map((message) => (parseTask(message.Body) as { envelope: { id: string } }).envelope.id)),
    ).toEqual(ids);
  });

  it('refuses a bad time, or at with delaySeconds or a FIFO group, before anything is sent', async () => {
    for (const options of [{ at: 'tomorrow' }, { at: new Date(), delaySeconds: 5 }, { at: new Date(), groupId: 'g' }]) {
      const error = await producer()
        .send('send_email', email, options)
        .catch((e: unknown) => e);
      expect(isProducerError(error) && error.code).toBe('INVALID_OPTIONS');
    }
  });
});
