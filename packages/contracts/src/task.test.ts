import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { seedMessage, validEnvelope, validPayloads } from '../test/fixtures.js';
import {
  builtinTasks,
  checkQueueSettings,
  createRegistry,
  createTask,
  defineTask,
  exampleSalesReport,
  isTaskValidationError,
  parseS3Uri,
  parseTask,
  registry,
  TaskDefinitionError,
  TaskValidationError,
  toFlatMessage,
} from './index.js';

describe('parseTask', () => {
  it("normalises the seed article's flat message to a valid send_email envelope", () => {
    const parsed = parseTask(seedMessage);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.form).toBe('flat');
    expect(parsed.envelope).toMatchObject({
      task: 'send_email',
      version: 1,
      payload: {
        to: ['john@example.com'],
        from: 'noreply@example.com',
        subject: 'Welcome to our app',
        text: 'Thank you for signing up!',
      },
    });
    expect(parsed.envelope.payload).not.toHaveProperty('body');
    expect(parsed.envelope.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isNaN(Date.parse(parsed.envelope.createdAt))).toBe(false);
  });

  it('takes id and createdAt of a flat message from defaults, so redeliveries keep one id', () => {
    const defaults = { id: '6f1c2c39-5b8e-4a59-9d1e-0d5c8d8b9a10', createdAt: '2026-11-28T09:00:00Z' };
    const first = parseTask(seedMessage, { defaults });
    const second = parseTask(seedMessage, { defaults });
    expect(first.ok && second.ok && first.envelope.id === second.envelope.id).toBe(true);
    expect(first.ok && first.envelope.createdAt).toBe('2026-11-28T09:00:00Z');
  });

  it('fills an envelope without id (a scheduled firing) from defaults; without defaults it stays invalid', () => {
    const scheduled = {
      task: 'send_email',
      version: 1,
      createdAt: '2026-12-01T02:00:00Z',
      idempotencyKey: 'schedule:nightly:2026-12-01T02:00:00Z',
      payload: { to: ['ada@example.com'], subject: 'Nightly', text: 'x' },
    };
    const defaults = { id: '6f1c2c39-5b8e-4a59-9d1e-0d5c8d8b9a10', createdAt: '2026-12-01T02:00:01Z' };
    const parsed = parseTask(scheduled, { defaults });
    expect(parsed.ok && parsed.envelope).toMatchObject({
      id: defaults.id,
      createdAt: '2026-12-01T02:00:00Z',
      idempotencyKey: 'schedule:nightly:2026-12-01T02:00:00Z',
    });
    expect(parsed.ok && parsed.form).toBe('envelope');
    const bare = parseTask(scheduled);
    expect(bare.ok).toBe(false);
    expect(bare.ok ? [] : bare.error.violations.map((violation) => violation.path)).toContain('/id');
  });

  it('rejects a __proto__ field in the flat form as the envelope form does, instead of dropping it', () => {
    const flat = parseTask(
      '{"task":"send_email","to":"a@example.com","subject":"s","body":"b","__proto__":{"admin":true}}',
    );
    expect(flat.ok).toBe(false);
    expect(flat.ok ? [] : flat.error.violations).toContainEqual({ path: '/__proto__', message: expect.any(String) });
    const envelope = parseTask(
      JSON.stringify(validEnvelope).replace('"payload":{', '"payload":{"__proto__":{"admin":true},'),
    );
    expect(envelope.ok ? [] : envelope.error.violations).toContainEqual({
      path: '/payload/__proto__',
      message: expect.any(String),
    });
  });

  it('reports a missing field once, as "is required", not as each rule it would have to meet', () => {
    const { subject: _subject, ...payload } = validPayloads.send_email;
    const parsed = parseTask({ ...validEnvelope, payload });
    expect(parsed.ok ? [] : parsed.error.violations).toEqual([{ path: '/payload/subject', message: 'is required' }]);
  });

  it('reports flat-form violations at the flat paths', () => {
    const parsed = parseTask({ task: 'send_email', to: 'not-an-address', subject: 'Hi' });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.violations).toEqual([
      { path: '/to/0', message: 'must be an email address' },
      { path: '', message: 'needs text, html or both' },
    ]);
  });

  it('accepts an envelope as a string or an object and keeps only known envelope fields', () => {
    const input = { ...validEnvelope, futureField: 1 };
    for (const form of [input, JSON.stringify(input)]) {
      const parsed = parseTask(form);
      expect(parsed.ok && parsed.form).toBe('envelope');
      expect(parsed.ok && parsed.envelope).toEqual(validEnvelope);
    }
  });

  it('lists every violation with its path, not just the first', () => {
    const parsed = parseTask({
      ...validEnvelope,
      id: 'nope',
      payload: { to: [], subject: 'a\r\nb', extra: true },
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.code).toBe('SCHEMA_VIOLATION');
    expect(parsed.error.task).toBe('send_email');
    expect(parsed.error.violations.map((violation) => violation.path)).toEqual([
      '/id',
      '/payload/extra',
      '/payload/to',
      '/payload/subject',
      '/payload',
    ]);
    expect(parsed.error.message).toContain('/payload/subject: must be one line');
  });

  it.each([
    ['{"task": "send_email",', 'INVALID_JSON'],
    ['[1, 2]', 'NOT_AN_OBJECT'],
    [42, 'NOT_AN_OBJECT'],
    [null, 'NOT_AN_OBJECT'],
    [{ to: 'a@example.com' }, 'SCHEMA_VIOLATION'],
    [{ task: 'send_sms', to: 'a@example.com' }, 'UNKNOWN_TASK'],
    [{ ...validEnvelope, task: 'send_sms' }, 'UNKNOWN_TASK'],
    [{ ...validEnvelope, version: 7 }, 'UNSUPPORTED_VERSION'],
    [{ task: 'send_email', version: 3, to: 'a@example.com', subject: 's', body: 'b' }, 'UNSUPPORTED_VERSION'],
  ])('rejects %j with %s', (input, code) => {
    const parsed = parseTask(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.code).toBe(code);
  });
});

describe('versioning', () => {
  const greetV1 = Type.Object({ name: Type.String() }, { additionalProperties: false });
  const greetV2 = Type.Object({ firstName: Type.String(), lastName: Type.String() }, { additionalProperties: false });
  const greet = defineTask({
    name: 'greet',
    description: 'test task',
    versions: { 1: { schema: greetV1 }, 2: { schema: greetV2 } },
  });
  const custom = createRegistry([...builtinTasks, greet]);
  const base = { id: validEnvelope.id, createdAt: validEnvelope.createdAt, task: 'greet' };

  it('keeps every supported version and validates each against its own schema', () => {
    expect(greet.latestVersion).toBe(2);
    expect(parseTask({ ...base, version: 1, payload: { name: 'Ada' } }, { registry: custom }).ok).toBe(true);
    expect(
      parseTask({ ...base, version: 2, payload: { firstName: 'Ada', lastName: 'L' } }, { registry: custom }).ok,
    ).toBe(true);
    expect(parseTask({ ...base, version: 2, payload: { name: 'Ada' } }, { registry: custom }).ok).toBe(false);
  });

  it('rejects an unknown version with its own code and names the supported ones', () => {
    const parsed = parseTask({ ...base, version: 3, payload: {} }, { registry: custom });
    expect(!parsed.ok && parsed.error.code).toBe('UNSUPPORTED_VERSION');
    expect(!parsed.ok && parsed.error.message).toContain('supported: 1, 2');
  });

  it('compiles each validator once', () => {
    expect(custom.validator('greet', 1)).toBe(custom.validator('greet', 1));
    expect(custom.validator('greet', 9)).toBeUndefined();
  });

  it('refuses malformed definitions', () => {
    expect(() => defineTask({ name: 'Bad-Name', description: '', versions: { 1: { schema: greetV1 } } })).toThrow(
      TaskDefinitionError,
    );
    expect(() => defineTask({ name: 'empty', description: '', versions: {} })).toThrow(TaskDefinitionError);
    expect(() =>
      defineTask({
        name: 'slow',
        description: '',
        versions: { 1: { schema: greetV1 } },
        queue: { messageRetentionSeconds: 4 },
      }),
    ).toThrow(/messageRetentionSeconds is 4, must be an integer from 60 to 1209600/);
    expect(() => createRegistry([greet, greet])).toThrow(/defined twice/);
  });
});

describe('createTask', () => {
  it('fills id, createdAt and the latest version, and validates', () => {
    const before = Date.now();
    const task = createTask('process_image', validPayloads.process_image as never, { idempotencyKey: 'img-1' });
    expect(task.task).toBe('process_image');
    expect(task.version).toBe(1);
    expect(task.idempotencyKey).toBe('img-1');
    expect(Date.parse(task.createdAt)).toBeGreaterThanOrEqual(before - 1);
    expect(parseTask(JSON.parse(JSON.stringify(task))).ok).toBe(true);
    expect(createTask('process_image', validPayloads.process_image as never).id).not.toBe(task.id);
  });

  it('takes the example sales report as it is, with generated rows or with a source of its own', () => {
    const destination = 's3://tq-artifacts/reports/q3.pdf';
    const inline = createTask('generate_report', exampleSalesReport({ title: 'Q3', destination, rows: 120 }));
    expect(inline.payload.rows).toHaveLength(120);
    expect(new Set(inline.payload.rows?.map((row) => row.region))).toEqual(new Set(['north', 'south', 'east', 'west']));
    const fromCsv = exampleSalesReport({ title: 'Q3', destination, regions: ['x'] });
    expect(fromCsv.rows).toBeUndefined();
    expect(() => createTask('generate_report', fromCsv)).toThrow(TaskValidationError);
    expect(
      createTask('generate_report', { ...fromCsv, source: 's3://tq-artifacts/in/sales.csv' }).payload.chart,
    ).toEqual({
      type: 'bar',
      aggregate: 1,
    });
  });

  it('throws a TaskValidationError listing every violation, and nothing is returned', () => {
    let error: unknown;
    try {
      createTask('send_email', { to: ['nope'], subject: '' } as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TaskValidationError);
    expect(isTaskValidationError(error)).toBe(true);
    expect((error as TaskValidationError).violations.map((violation) => violation.path)).toEqual([
      '/payload/to/0',
      '/payload/subject',
      '/payload',
    ]);
  });

  it('rejects an unknown task name at runtime even when types are bypassed', () => {
    expect(() => createTask('send_sms' as 'send_email', validPayloads.send_email as never)).toThrow(
      /unknown task "send_sms"/,
    );
  });

  it("says how to use one's own tasks when the built-in types were the default, and only then", () => {
    expect(() => createTask('greet_user' as 'send_email', {} as never)).toThrow(
      'unknown task "greet_user" (known: send_email, process_image, cleanup_data, generate_report); these are tq\'s built-in types: pass registry: config.registry (your tq.config.ts) for your own',
    );
    const own = createRegistry([
      defineTask({ name: 'greet_user', description: 'g', versions: { 1: { schema: Type.Object({}) } } }),
    ]);
    expect(() => createTask('send_email', {} as never, { registry: own })).toThrow(
      /^unknown task "send_email" \(known: greet_user\)$/,
    );
  });
});

describe('helpers', () => {
  it('recognises validation errors without instanceof (duplicate installs)', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('@tq/contracts/TaskValidationError')]: true });
    expect(isTaskValidationError(foreign)).toBe(true);
    expect(isTaskValidationError(new Error('x'))).toBe(false);
  });

  it('checks queue settings against the AWS ranges and names setting, value and range', () => {
    expect(checkQueueSettings({ visibilityTimeoutSeconds: 43_200, delaySeconds: 0 })).toEqual([]);
    expect(checkQueueSettings({ messageRetentionSeconds: 4, receiveWaitTimeSeconds: 21, delaySeconds: 1.5 })).toEqual([
      {
        path: '/messageRetentionSeconds',
        message: 'messageRetentionSeconds is 4, must be an integer from 60 to 1209600',
      },
      { path: '/delaySeconds', message: 'delaySeconds is 1.5, must be an integer from 0 to 900' },
      { path: '/receiveWaitTimeSeconds', message: 'receiveWaitTimeSeconds is 21, must be an integer from 0 to 20' },
    ]);
  });

  it('gives each built-in task valid queue defaults', () => {
    for (const name of registry.names()) expect(checkQueueSettings(registry.get(name)?.queue ?? {})).toEqual([]);
  });

  it('splits s3 URIs', () => {
    expect(parseS3Uri('s3://bucket/a/b.csv')).toEqual({ bucket: 'bucket', key: 'a/b.csv' });
    expect(() => parseS3Uri('https://bucket/a')).toThrow(TypeError);
  });
});

describe('toFlatMessage', () => {
  it("gives the seed article's flat form back, and parseTask reads it to the same payload", () => {
    const envelope = createTask('send_email', {
      to: ['john@example.com', 'ada@example.com'],
      from: 'noreply@example.com',
      subject: 'Welcome',
      text: 'Thanks!',
    });
    const flat = toFlatMessage(envelope);
    expect(flat).toEqual({
      task: 'send_email',
      to: 'john@example.com, ada@example.com',
      from: 'noreply@example.com',
      subject: 'Welcome',
      body: 'Thanks!',
    });
    for (const to of [['a@example.com'], ['a@example.com', 'b@example.com']]) {
      const flatAgain = toFlatMessage(createTask('send_email', { to, subject: 's', text: 't' }));
      const parsed = parseTask(JSON.stringify(flatAgain));
      expect(parsed.ok && parsed.envelope.payload).toEqual({ to, subject: 's', text: 't' });
    }
  });

  it('takes the payload as it is for task types without a flat mapping', () => {
    const envelope = createTask('cleanup_data', validPayloads.cleanup_data as never);
    expect(toFlatMessage(envelope)).toEqual({ task: 'cleanup_data', ...validPayloads.cleanup_data });
  });
});
