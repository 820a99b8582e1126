import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ENVELOPE_KEYS, Envelope, type EnvelopeMeta } from './envelope.js';
import { TaskValidationError, type Violation } from './errors.js';
import type { FlowRef } from './flow.js';
import { createRegistry, type TaskDefinition, type TaskRegistry, type TaskVersionDefinitions } from './registry.js';
import { builtinTasks } from './tasks/index.js';
import { collectViolations } from './violations.js';

/** The payload types of one task definition's versions, by version number. */
type VersionPayloads<TDefinition> =
  TDefinition extends TaskDefinition<string, infer TVersions>
    ? { [V in keyof TVersions & number]: TVersions[V] extends { schema: infer S extends TSchema } ? Static<S> : never }
    : never;

/**
 * Payload types of every version, by task, inferred from task definitions: what `TaskVersions`
 * is made of for the built-in tasks, and what an application's own tasks can be merged in with.
 *
 * ```ts
 * const myTasks = [defineTask({ name: 'resize_video', description: '…', versions: { 1: { schema: ResizeVideoV1 } } })] as const;
 * declare module '@tq/contracts' {
 *   interface TaskVersions extends InferTaskVersions<typeof myTasks> {}
 * }
 * ```
 */
export type InferTaskVersions<TDefinitions extends readonly TaskDefinition<string, TaskVersionDefinitions>[]> = {
  [D in TDefinitions[number] as D['name']]: VersionPayloads<D>;
};

/**
 * Payload types of every supported version, by task: inferred from the built-in definitions
 * (`builtinTasks`). Applications that register their own task types merge them in (see
 * `InferTaskVersions`); `TaskPayloads`, `TaskName` and `TaskEnvelope` follow.
 */
export interface TaskVersions extends InferTaskVersions<typeof builtinTasks> {}

/** The highest version number in a union of them (versions 1 to 30). */
type Highest<
  TVersion extends number,
  TCount extends unknown[] = [unknown],
  TFound extends number = never,
> = TCount['length'] extends 31
  ? TFound
  : Highest<TVersion, [...TCount, unknown], TCount['length'] extends TVersion ? TCount['length'] : TFound>;

/** Payload types of the version `createTask` sends by default (the latest), by task. */
export type TaskPayloads = {
  [K in keyof TaskVersions]: TaskVersions[K][Highest<keyof TaskVersions[K] & number> & keyof TaskVersions[K]];
};

/** A registered task name. */
export type TaskName = keyof TaskPayloads & string;

/** The payload of a task, at the latest version. */
export type TaskPayload<TTask extends TaskName> = TaskPayloads[TTask];

/** A validated envelope: `task` and `version` select the payload type. */
export type TaskEnvelope<TTask extends TaskName = TaskName> = {
  [K in TTask]: {
    [V in keyof TaskVersions[K] & number]: Omit<EnvelopeMeta, 'task' | 'version'> & {
      task: K;
      version: V;
      payload: TaskVersions[K][V];
    };
  }[keyof TaskVersions[K] & number];
}[TTask];

/** The registry of the four built-in task types. */
export const registry: TaskRegistry = createRegistry(builtinTasks);

const envelopeCheck = TypeCompiler.Compile(Envelope);

/** Options for `createTask`. */
export interface CreateTaskOptions {
  /** Defaults to a random UUID. */
  id?: string;
  /** Defaults to now. */
  createdAt?: Date | string;
  /** Defaults to the task's latest version. */
  version?: number;
  idempotencyKey?: string;
  traceparent?: string;
  tracestate?: string;
  /** The flow node this task is (see `FlowRef`). */
  flow?: FlowRef;
  /** Defaults to the built-in registry. */
  registry?: TaskRegistry;
}

/**
 * Builds a task envelope (id, createdAt and version filled in) and validates it.
 * Throws `TaskValidationError` (`UNKNOWN_TASK`, `UNSUPPORTED_VERSION` or `SCHEMA_VIOLATION`
 * with every violation) when the task or payload is invalid.
 */
export function createTask<TTask extends TaskName>(
  task: TTask,
  payload: TaskPayload<TTask>,
  options: CreateTaskOptions = {},
): TaskEnvelope<TTask> {
  const reg = options.registry ?? registry;
  const definition = reg.get(task);
  const envelope: Record<string, unknown> = {
    id: options.id ?? globalThis.crypto.randomUUID(),
    task,
    version: options.version ?? definition?.latestVersion ?? 1,
    createdAt:
      options.createdAt instanceof Date
        ? options.createdAt.toISOString()
        : (options.createdAt ?? new Date().toISOString()),
    payload,
  };
  if (options.idempotencyKey !== undefined) envelope.idempotencyKey = options.idempotencyKey;
  if (options.traceparent !== undefined) envelope.traceparent = options.traceparent;
  if (options.tracestate !== undefined) envelope.tracestate = options.tracestate;
  if (options.flow !== undefined) envelope.flow = options.flow;
  if (
    definition &&
    options.id === undefined &&
    options.createdAt === undefined &&
    options.version === undefined &&
    options.idempotencyKey === undefined &&
    options.traceparent === undefined &&
    options.tracestate === undefined &&
    options.flow === undefined
  ) {
    // Every field but the payload was made here from known-good values: a valid payload is all
    // there is to check. An invalid one takes the full path below, for the full report.
    if (reg.validator(task, envelope.version as number)?.violations(payload).length === 0) {
      return envelope as TaskEnvelope<TTask>;
    }
  }
  const result = validateEnvelope(envelope, reg, 'envelope');
  if (!result.ok) throw result.error;
  return result.envelope as TaskEnvelope<TTask>;
}

/** The outcome of `parseTask`: never throws for bad input. */
export type ParseTaskResult =
  | {
      ok: true;
      envelope: TaskEnvelope;
      /** `flat` when the input was the seed article's flat form and was normalised. */
      form: 'envelope' | 'flat';
    }
  | { ok: false; error: TaskValidationError };

/** Options for `parseTask`. */
export interface ParseTaskOptions {
  registry?: TaskRegistry;
  /**
   * Envelope fields for flat-form input, which carries none, and for an envelope without `id`
   * (a scheduled firing: EventBridge Scheduler cannot make a UUID). Workers pass the SQS message
   * id and sent timestamp so a redelivered message keeps the same id. Without defaults an
   * envelope must carry its id.
   */
  defaults?: { id?: string | undefined; createdAt?: string | undefined };
}

/**
 * Parses a task from a JSON string or a decoded object: an envelope, or the seed article's
 * flat form (`{"task":"send_email","to":...,"body":...}`), which is normalised to an envelope.
 * Returns the typed envelope or a `TaskValidationError` listing every violation.
 */
export function parseTask(input: unknown, options: ParseTaskOptions = {}): ParseTaskResult {
  const reg = options.registry ?? registry;
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (cause) {
      return fail('INVALID_JSON', `task is not valid JSON: ${(cause as Error).message}`, { cause });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('NOT_AN_OBJECT', `task must be a JSON object, got ${Array.isArray(value) ? 'array' : typeof value}`);
  }
  const record = value as Record<string, unknown>;
  if (typeof record.task !== 'string') {
    return fail('SCHEMA_VIOLATION', 'task has no "task" name', {
      violations: [{ path: '/task', message: 'Expected required property "task" to be a string' }],
    });
  }
  if ('payload' in record) {
    // An envelope that leaves its id (and time) to the queue, as a scheduled firing does
    // (EventBridge Scheduler can template a time but no UUID): the worker's defaults fill them.
    if (record.id === undefined && options.defaults?.id !== undefined) {
      const filled: Record<string, unknown> = { ...record, id: options.defaults.id };
      if (filled.createdAt === undefined && options.defaults.createdAt !== undefined) {
        filled.createdAt = options.defaults.createdAt;
      }
      return validateEnvelope(filled, reg, 'envelope');
    }
    return validateEnvelope(record, reg, 'envelope');
  }

  const definition = reg.get(record.task);
  if (!definition) return unknownTask(record.task, reg);
  const fields: Record<string, unknown> = {};
  const envelope: Record<string, unknown> = {
    id: options.defaults?.id ?? globalThis.crypto.randomUUID(),
    createdAt: options.defaults?.createdAt ?? new Date().toISOString(),
    version: definition.latestVersion,
  };
  for (const [key, field] of Object.entries(record)) {
    // Defined, not assigned: a `__proto__` key stays an own field (and fails the schema) instead
    // of silently replacing the object's prototype.
    Object.defineProperty(ENVELOPE_KEYS.has(key) ? envelope : fields, key, {
      value: field,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const versionDefinition = typeof envelope.version === 'number' ? definition.versions[envelope.version] : undefined;
  envelope.payload = versionDefinition?.fromFlat ? versionDefinition.fromFlat(fields) : fields;
  return validateEnvelope(envelope, reg, 'flat');
}

function validateEnvelope(
  record: Record<string, unknown>,
  reg: TaskRegistry,
  form: 'envelope' | 'flat',
): ParseTaskResult {
  const task = record.task;
  const version = record.version;
  const definition = typeof task === 'string' ? reg.get(task) : undefined;
  if (typeof task === 'string' && !definition) return unknownTask(task, reg);

  const violations: Violation[] = collectViolations(envelopeCheck, record);

  if (definition && typeof version === 'number' && Number.isInteger(version)) {
    const validator = reg.validator(definition.name, version);
    if (!validator) {
      const supported = Object.keys(definition.versions).join(', ');
      return fail(
        'UNSUPPORTED_VERSION',
        `task "${definition.name}" has no version ${version} (supported: ${supported})`,
        { task: definition.name, version },
      );
    }
    // Flat-form senders wrote the payload fields at the top level, so report paths there.
    const prefix = form === 'flat' ? '' : '/payload';
    for (const violation of validator.violations(record.payload)) {
      violations.push({ path: `${prefix}${violation.path}`, message: violation.message });
    }
  }
  const name = typeof task === 'string' ? task : undefined;
  const number = typeof version === 'number' ? version : undefined;
  if (violations.length > 0) {
    return fail('SCHEMA_VIOLATION', `invalid ${name ?? 'task'}${number ? ` v${number}` : ''} task`, {
      task: name,
      version: number,
      violations,
    });
  }

  const envelope: Record<string, unknown> = {
    id: record.id,
    task,
    version,
    createdAt: record.createdAt,
    payload: record.payload,
  };
  for (const key of ['idempotencyKey', 'traceparent', 'tracestate', 'flow'] as const) {
    if (record[key] !== undefined) envelope[key] = record[key];
  }
  return { ok: true, envelope: envelope as TaskEnvelope, form };
}

function unknownTask(task: string, reg: TaskRegistry): ParseTaskResult {
  return fail('UNKNOWN_TASK', `unknown task "${task}" (known: ${reg.names().join(', ')})${builtinHint(reg)}`, {
    task,
  });
}

/**
 * What to do when a task is unknown because no registry was given: the built-in types are the
 * default of the library calls, a project's own come from its config.
 */
export function builtinHint(reg: TaskRegistry | undefined): string {
  return reg === undefined || reg === registry
    ? "; these are tq's built-in types: pass registry: config.registry (your tq.config.ts) for your own"
    : '';
}

function fail(
  code: TaskValidationError['code'],
  message: string,
  details: ConstructorParameters<typeof TaskValidationError>[2] = {},
): ParseTaskResult {
  return { ok: false, error: new TaskValidationError(code, message, details) };
}

/**
 * A task in the seed article's flat form (`{"task":"send_email","to":"a@b.c","subject":..,"body":..}`),
 * for consumers written against it (the original PHP worker behind the HTTP relay): `task`, then
 * the payload's fields as the task type's `toFlat` gives them. The inverse of the flat form that
 * `parseTask` accepts: `parseTask(toFlatMessage(envelope))` has the same payload.
 */
export function toFlatMessage(
  envelope: { task: string; version: number; payload: unknown },
  options: { registry?: TaskRegistry } = {},
): Record<string, unknown> {
  const definition = (options.registry ?? registry).get(envelope.task);
  const toFlat = definition?.versions[envelope.version]?.toFlat;
  const payload = envelope.payload as Record<string, unknown>;
  const fields = toFlat ? toFlat(payload) : payload;
  const flat: Record<string, unknown> = { task: envelope.task };
  // Own data properties, so a payload field named __proto__ stays a field.
  for (const [key, value] of Object.entries(fields)) {
    Object.defineProperty(flat, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return flat;
}
