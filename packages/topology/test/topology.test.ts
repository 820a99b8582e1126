import { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { registry } from '@tq/contracts';
import { type LocalEndpoint, startLocalEndpoint, uniqueName, waitForMessages } from '@tq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProvisioner,
  defineTopology,
  describeChange,
  TopologyError,
  type TopologyOptions,
} from '../src/index.js';

const TASKS = registry.names();

describe('defineTopology', () => {
  it('derives a queue and a DLQ per task from the registry defaults', () => {
    const topology = defineTopology({ prefix: 'shop' });
    expect(topology.topic).toBe('shop-tasks');
    expect(topology.bucket).toBe('shop-artifacts');
    const email = topology.queues.find((queue) => queue.name === 'shop-send_email');
    expect(email).toMatchObject({
      role: 'task',
      deadLetterQueue: 'shop-send_email-dlq',
      maxReceiveCount: 5,
      subscribed: true,
      filterTasks: ['send_email'],
      attributes: { VisibilityTimeout: '60', MessageRetentionPeriod: '345600' },
    });
    expect(topology.queues.map((queue) => queue.name).sort()).toEqual(
      TASKS.flatMap((task) => [`shop-${task}`, `shop-${task}-dlq`]).sort(),
    );
  });

  it('gives a second consumer a copy queue + DLQ per task, with the task queue settings', () => {
    const topology = defineTopology({
      prefix: 'shop',
      queues: { send_email: { maxReceiveCount: 7 } },
      copies: [{ consumer: 'activemq', tasks: ['send_email'] }],
    });
    expect(topology.queues.find((queue) => queue.name === 'shop-send_email-activemq')).toMatchObject({
      role: 'task',
      task: 'send_email',
      consumer: 'activemq',
      deadLetterQueue: 'shop-send_email-activemq-dlq',
      maxReceiveCount: 7,
      subscribed: true,
      filterTasks: ['send_email'],
    });
    expect(topology.queues.find((queue) => queue.name === 'shop-send_email-activemq-dlq')).toMatchObject({
      role: 'dlq',
      consumer: 'activemq',
    });
    const all = defineTopology({ prefix: 'shop', copies: [{ consumer: 'activemq' }] });
    expect(all.queues.filter((queue) => queue.consumer === 'activemq')).toHaveLength(TASKS.length * 2);
    expect(() =>
      defineTopology({
        queues: { send_email: { fifo: true } },
        copies: [{ consumer: 'activemq', tasks: ['send_email'] }],
      }),
    ).toThrow(TopologyError);
    expect(() => defineTopology({ copies: [{ consumer: 'Active MQ' }] })).toThrow(TopologyError);
  });

  it('names every out-of-range setting with its value and AWS range', () => {
    let error: unknown;
    try {
      defineTopology({
        queues: { send_email: { messageRetentionSeconds: 4, visibilityTimeoutSeconds: 50_000 }, nope: {} },
        dlqRetentionSeconds: 2_000_000,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TopologyError);
    expect((error as TopologyError).violations.map((violation) => violation.message)).toEqual([
      'unknown task "nope"; these are tq\'s built-in types: pass registry: config.registry (your tq.config.ts) for your own',
      'visibilityTimeoutSeconds is 50000, must be an integer from 0 to 43200',
      'messageRetentionSeconds is 4, must be an integer from 60 to 1209600',
      'dlqRetentionSeconds is 2000000, must be an integer from 60 to 1209600',
    ]);
  });
});

describe('provisioning against the local endpoint', () => {
  let endpoint: LocalEndpoint;
  let sqs: SQSClient;
  let sns: SNSClient;
  let s3: S3Client;
  const provisioner = (options: TopologyOptions) =>
    createProvisioner({ sqs, sns, s3, topology: defineTopology(options) });
  const attributes = async (name: string) => {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    const result = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    return { ...(result.Attributes ?? {}), url: QueueUrl as string } as Record<string, string> & { url: string };
  };

  beforeAll(async () => {
    endpoint = await startLocalEndpoint();
    sqs = new SQSClient(endpoint.clientConfig);
    sns = new SNSClient(endpoint.clientConfig);
    s3 = new S3Client(endpoint.clientConfig);
  });
  afterAll(() => endpoint.stop());

  it('creates everything once; a second apply changes nothing', async () => {
    const prefix = uniqueName('p');
    const options = { prefix, bucket: `${prefix.toLowerCase()}-files` };
    const planned = await provisioner(options).plan();
    expect(planned.filter((change) => change.action !== 'create')).toEqual([]);
    expect(planned.map(describeChange)).toContain(`+ create topic ${prefix}-tasks`);
    expect(planned).toHaveLength(1 + 1 + 8 + 4);
    expect(await provisioner(options).apply()).toEqual(planned);
    expect(await provisioner(options).apply()).toEqual([]);
    expect(await provisioner(options).plan()).toEqual([]);

    const email = await attributes(`${prefix}-send_email`);
    const dlq = await attributes(`${prefix}-send_email-dlq`);
    expect(JSON.parse(email.RedrivePolicy as string)).toMatchObject({ deadLetterTargetArn: dlq.QueueArn });
    expect(Number(JSON.parse(email.RedrivePolicy as string).maxReceiveCount)).toBe(5);
    expect(dlq.MessageRetentionPeriod).toBe('1209600');
    const policy = JSON.parse(email.Policy as string);
    expect(policy.Statement[0].Condition.ArnEquals['aws:SourceArn']).toMatch(new RegExp(`:${prefix}-tasks$`));
    expect(policy.Statement[0].Resource).toBe(email.QueueArn);
  });

  it('shows a drifted attribute in plan and fixes it with apply', async () => {
    const prefix = uniqueName('drift');
    await provisioner({ prefix, bucket: false }).apply();
    const { url } = await attributes(`${prefix}-send_email`);
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '5' } }));
    const planned = await provisioner({ prefix, bucket: false }).plan();
    expect(planned).toEqual([
      {
        action: 'update',
        resource: 'queue',
        name: `${prefix}-send_email`,
        attribute: 'VisibilityTimeout',
        from: '5',
        to: '60',
      },
    ]);
    expect(await provisioner({ prefix, bucket: false }).apply()).toEqual(planned);
    expect((await attributes(`${prefix}-send_email`)).VisibilityTimeout).toBe('60');
    expect(await provisioner({ prefix, bucket: false }).plan()).toEqual([]);

    const changed = await provisioner({
      prefix,
      bucket: false,
      queues: { send_email: { maxReceiveCount: 9 } },
    }).apply();
    expect(changed.map((change) => change.action === 'update' && change.attribute)).toEqual(['RedrivePolicy']);
  });

  it('fans each task type out to its own queue only, and every task to an unfiltered subscriber', async () => {
    const prefix = uniqueName('fan');
    await provisioner({ prefix, bucket: false, subscribers: [{ name: 'audit' }] }).apply();
    const topicArn = `arn:aws:sns:${endpoint.region}:000000000000:${prefix}-tasks`;
    for (const task of TASKS) {
      await sns.send(
        new PublishCommand({
          TopicArn: topicArn,
          Message: JSON.stringify({ task }),
          MessageAttributes: { task: { DataType: 'String', StringValue: task } },
        }),
      );
    }
    for (const task of TASKS) {
      const { url } = await attributes(`${prefix}-${task}`);
      const messages = await waitForMessages(sqs, url, 1);
      expect(messages.map((message) => JSON.parse(message.Body as string).task)).toEqual([task]);
      await expect(waitForMessages(sqs, url, 1, { timeoutMs: 1000 })).rejects.toThrow(/got 0/);
    }
    const audit = await waitForMessages(sqs, (await attributes(`${prefix}-audit`)).url, 4);
    expect(audit.map((message) => JSON.parse(message.Body as string).task).sort()).toEqual([...TASKS].sort());
  });

  it("delivers a task to its queue and to each consumer's copy queue, with its own redrive policy", async () => {
    const prefix = uniqueName('copy');
    await provisioner({ prefix, bucket: false, copies: [{ consumer: 'activemq', tasks: ['send_email'] }] }).apply();
    await sns.send(
      new PublishCommand({
        TopicArn: `arn:aws:sns:${endpoint.region}:000000000000:${prefix}-tasks`,
        Message: JSON.stringify({ task: 'send_email' }),
        MessageAttributes: { task: { DataType: 'String', StringValue: 'send_email' } },
      }),
    );
    const own = await attributes(`${prefix}-send_email`);
    const copy = await attributes(`${prefix}-send_email-activemq`);
    expect(await waitForMessages(sqs, own.url, 1)).toHaveLength(1);
    expect(await waitForMessages(sqs, copy.url, 1)).toHaveLength(1);
    expect(JSON.parse(copy.RedrivePolicy as string).deadLetterTargetArn).toMatch(/:copy-.*-send_email-activemq-dlq$/);
    const other = await attributes(`${prefix}-process_image-activemq`).catch(() => undefined);
    expect(other).toBeUndefined();
  });

  it('deletes only with prune', async () => {
    const prefix = uniqueName('prune');
    const options = { prefix, bucket: false as const, tasks: ['send_email'] };
    await provisioner(options).apply();
    await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-old_task` }));
    expect(await provisioner(options).plan()).toEqual([]);
    const pruning = await provisioner(options).plan({ prune: true });
    expect(pruning).toEqual([{ action: 'delete', resource: 'queue', name: `${prefix}-old_task` }]);
    await provisioner(options).apply({ prune: true });
    await expect(attributes(`${prefix}-old_task`)).rejects.toThrow();
    expect(await provisioner(options).plan({ prune: true })).toEqual([]);
  });

  it('creates FIFO variants unsubscribed, and refuses to flip an existing queue', async () => {
    const prefix = uniqueName('fifo');
    await provisioner({ prefix, bucket: false, tasks: ['send_email'], queues: { send_email: { fifo: true } } }).apply();
    expect((await attributes(`${prefix}-send_email.fifo`)).FifoQueue).toBe('true');
    expect((await attributes(`${prefix}-send_email-dlq.fifo`)).FifoQueue).toBe('true');

    const other = uniqueName('flip');
    await sqs.send(
      new CreateQueueCommand({ QueueName: `${other}-send_email-dlq.fifo`, Attributes: { FifoQueue: 'true' } }),
    );
    await sqs.send(
      new CreateQueueCommand({ QueueName: `${other}-send_email-dlq`, Attributes: { MessageRetentionPeriod: '60' } }),
    );
    const changes = await provisioner({ prefix: other, bucket: false, tasks: ['send_email'] }).plan();
    expect(changes).toContainEqual({
      action: 'update',
      resource: 'queue',
      name: `${other}-send_email-dlq`,
      attribute: 'MessageRetentionPeriod',
      from: '60',
      to: '1209600',
    });
  });

  it('fails with one clear error when the endpoint is unreachable', async () => {
    const dead = { ...endpoint.clientConfig, endpoint: 'http://127.0.0.1:1', maxAttempts: 1 };
    const unreachable = createProvisioner({
      sqs: new SQSClient(dead),
      sns: new SNSClient(dead),
      s3: new S3Client(dead),
      topology: defineTopology({ bucket: false }),
    });
    await expect(unreachable.plan()).rejects.toMatchObject({
      code: 'AWS_ERROR',
      message: expect.stringMatching(/^could not list topics: .*ECONNREFUSED/),
    });
  });
});
