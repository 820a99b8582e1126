import { defineConfig, defineTask, readEnvironment, Type } from '@tq/contracts';
import { describe, expect, it } from 'vitest';
import repository from '../../../tq.config.js';
import { readBridgeConfig } from '../src/config.js';
import { forwardHeaders } from '../src/forward.js';
import { idFromMessageId, taskOfMessage } from '../src/ingest.js';

const { registry } = repository;
const env = (vars: Record<string, string> = {}) =>
  readEnvironment({ TQ_PREFIX: 'shop', TQ_ACTIVEMQ_URL: 'stomp://127.0.0.1:61613', ...vars });

describe('readBridgeConfig', () => {
  it("defaults to the original Camel route's settings and a destination per task", () => {
    const config = readBridgeConfig(env(), registry, { TQ_ACTIVEMQ_URL: 'stomp://127.0.0.1:61613' });
    expect(config).toMatchObject({
      pollDelayMs: 5000,
      consumers: 5,
      maxMessagesPerPoll: 10,
      concurrency: 50,
      mode: 'both',
      body: 'envelope',
      ingestQueue: '/queue/shop.ingest',
      ingestDeadLetterQueue: '/queue/shop.ingest.dlq',
    });
    expect(config.tasks).toEqual(['send_email', 'process_image', 'cleanup_data', 'generate_report']);
    expect(config.destinations).toEqual({
      send_email: '/queue/shop.send_email',
      process_image: '/queue/shop.process_image',
      cleanup_data: '/queue/shop.cleanup_data',
      generate_report: '/queue/shop.generate_report',
    });
  });

  it('maps tasks to destinations and takes the Camel settings from the environment', () => {
    const config = readBridgeConfig(env({ TQ_ACTIVEMQ_TASKS: 'send_email,generate_report' }), registry, {
      TQ_ACTIVEMQ_URL: 'stomp://mq:61613',
      ACTIVEMQ_DESTINATIONS: 'send_email=mail.out, generate_report=/topic/reports',
      ACTIVEMQ_POLL_DELAY_MS: '1000',
      ACTIVEMQ_CONSUMERS: '2',
      ACTIVEMQ_MAX_MESSAGES_PER_POLL: '5',
      ACTIVEMQ_BODY: 'flat',
      ACTIVEMQ_MODE: 'forward',
    });
    expect(config).toMatchObject({
      tasks: ['send_email', 'generate_report'],
      destinations: { send_email: '/queue/mail.out', generate_report: '/topic/reports' },
      pollDelayMs: 1000,
      consumers: 2,
      maxMessagesPerPoll: 5,
      concurrency: 10,
      body: 'flat',
      mode: 'forward',
    });
  });

  it.each([
    [{ TQ_ACTIVEMQ_URL: '' }, /TQ_ACTIVEMQ_URL is not set/],
    [{ TQ_ACTIVEMQ_URL: 'tcp://mq:61616' }, /TQ_ACTIVEMQ_URL is "tcp:\/\/mq:61616", must be stomp/],
    [
      { ACTIVEMQ_MAX_MESSAGES_PER_POLL: '11' },
      /ACTIVEMQ_MAX_MESSAGES_PER_POLL is "11", must be an integer from 1 to 10/,
    ],
    [{ ACTIVEMQ_DESTINATIONS: 'send_mail=x' }, /ACTIVEMQ_DESTINATIONS has "send_mail=x"/],
    [{ ACTIVEMQ_DESTINATIONS: 'send_email=a b' }, /ACTIVEMQ_DESTINATIONS has "a b"/],
    [{ ACTIVEMQ_MODE: 'sideways' }, /ACTIVEMQ_MODE is "sideways", must be forward, ingest or both/],
  ])('rejects %j naming the variable', (vars, message) => {
    expect(() => readBridgeConfig(env(), registry, { TQ_ACTIVEMQ_URL: 'stomp://127.0.0.1:61613', ...vars })).toThrow(
      message,
    );
  });
});

describe('messages', () => {
  it('gives JMS consumers the task as properties, FIFO groups as JMSXGroupID', () => {
    expect(
      forwardHeaders({
        task: 'send_email',
        id: 'i',
        version: 1,
        attempt: 2,
        traceparent: undefined,
        tracestate: undefined,
        idempotencyKey: 'order-1',
        groupId: 'customer-7',
      }),
    ).toEqual({
      'content-type': 'application/json',
      tq_task: 'send_email',
      tq_task_id: 'i',
      tq_version: '1',
      tq_attempt: '2',
      tq_idempotency_key: 'order-1',
      JMSXGroupID: 'customer-7',
    });
  });

  it('derives a stable UUID from the broker message id, so a redelivery keeps its task id', () => {
    const id = idFromMessageId('ID:host-1:1:1:1:1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(idFromMessageId('ID:host-1:1:1:1:1')).toBe(id);
    expect(idFromMessageId('ID:host-1:1:1:1:2')).not.toBe(id);
    const flat = { task: 'send_email', to: 'a@example.com', subject: 's', body: 'b' };
    const headers = { 'message-id': 'ID:host-1:1:1:1:1' };
    const parsed = taskOfMessage({ body: JSON.stringify(flat), headers }, registry);
    expect(parsed.ok && parsed.envelope.id).toBe(id);
  });

  it('reads a bare payload with the task type in the tq_task header; names each problem otherwise', () => {
    const bare = taskOfMessage(
      { body: '{"to":["a@example.com"],"subject":"s","text":"t"}', headers: { tq_task: 'send_email' } },
      registry,
    );
    expect(bare.ok && bare.envelope.task).toBe('send_email');
    const bad = taskOfMessage({ body: '{"task":"send_email","to":"nope"}', headers: {} }, registry);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.rejection.code).toBe('SCHEMA_VIOLATION');
    expect(!bad.ok && bad.rejection.reason).toMatch(/\/to\/0: must be an email address/);
    const notJson = taskOfMessage({ body: '<xml/>', headers: {} }, registry);
    expect(!notJson.ok && notJson.rejection.code).toBe('INVALID_JSON');
  });
});

describe("the bridge on a project's own tasks", () => {
  const greet = defineTask({
    name: 'greet_user',
    description: 'Greets a user',
    versions: { 1: { schema: Type.Object({ name: Type.String() }, { additionalProperties: false }) } },
  });
  const project = defineConfig({ tasks: [greet], workers: { greeter: { task: 'greet_user', main: 'g.ts' } } });

  it("forwards the project's tasks and only those, each to its own destination", () => {
    const config = readBridgeConfig(env(), project.registry, { TQ_ACTIVEMQ_URL: 'stomp://127.0.0.1:61613' });
    expect(config.tasks).toEqual(['greet_user']);
    expect(config.destinations).toEqual({ greet_user: '/queue/shop.greet_user' });
    expect(() =>
      readBridgeConfig(env({ TQ_ACTIVEMQ_TASKS: 'send_email' }), project.registry, {
        TQ_ACTIVEMQ_URL: 'stomp://127.0.0.1:61613',
      }),
    ).toThrow('TQ_ACTIVEMQ_TASKS names "send_email", known tasks: greet_user');
  });

  it("ingests the project's tasks and dead-letters a type it does not define", () => {
    const bare = taskOfMessage({ body: '{"name":"Ada"}', headers: { tq_task: 'greet_user' } }, project.registry);
    expect(bare.ok && bare.envelope).toMatchObject({ task: 'greet_user', payload: { name: 'Ada' } });
    const email = taskOfMessage(
      { body: '{"to":["a@example.com"],"subject":"s","text":"t"}', headers: { tq_task: 'send_email' } },
      project.registry,
    );
    expect(email.ok).toBe(false);
    expect(!email.ok && email.rejection.reason).toContain('send_email');
  });
});
