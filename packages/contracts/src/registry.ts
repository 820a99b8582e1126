import type { TObject } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { TaskDefinitionError, type Violation } from './errors.js';
import { registerFormats } from './formats.js';
import { checkQueueSettings, DEFAULT_QUEUE_SETTINGS, type QueueSettings } from './queue-settings.js';
import { resolveTaskFacts, type TaskFacts, type TaskFactsInput } from './task-facts.js';
import { collectViolations } from './violations.js';

/** Task names: lowercase snake_case, usable in queue names (`<prefix>-<task>`). */
export const TASK_NAME_PATTERN = '^[a-z][a-z0-9_]{0,63}$';

/** One version of a task's payload. */
export interface TaskVersionDefinition<TSchema extends TObject = TObject> {
  readonly schema: TSchema;
  /**
   * Cross-field rules TypeBox's compiler does not check (such as `anyOf` on an object) or
   * JSON Schema cannot state. Runs on every object payload, valid or not, so that one pass
   * reports every violation: it must not assume the schema passed.
   */
  readonly refine?: (payload: Readonly<Record<string, unknown>>) => Violation[];
  /**
   * Turns the seed article's flat message (payload fields beside `task`) into a payload.
   * Defaults to taking the fields as they are.
   */
  readonly fromFlat?: (fields: Record<string, unknown>) => unknown;
  /**
   * The reverse, for consumers that expect the flat form (the original PHP worker behind the
   * HTTP relay): payload fields as the flat message carries them. Defaults to the payload's fields.
   */
  readonly toFlat?: (payload: Record<string, unknown>) => Record<string, unknown>;
}

/** The versions of a task type, by number. */
export type TaskVersionDefinitions = Readonly<Record<number, TaskVersionDefinition>>;

/**
 * A task type: its name, every supported payload version, the queue settings it wants, and its
 * operational facts (worker defaults, idempotency, S3 allow-list, what it sends, scaling): every
 * fact about a task in one place, read by the worker, provisioning, the CLI and the CDK alike.
 * The type parameters keep the name and each version's schema, so payload types are inferred
 * from the definitions (`InferTaskVersions`) rather than kept beside them by hand.
 */
export interface TaskDefinition<
  TName extends string = string,
  TVersions extends TaskVersionDefinitions = TaskVersionDefinitions,
> extends TaskFacts {
  readonly name: TName;
  readonly description: string;
  /** Supported versions by number. A breaking payload change adds a version; old ones stay. */
  readonly versions: TVersions;
  /** The version `createTask` uses when none is given: the highest supported. */
  readonly latestVersion: number;
  readonly queue: QueueSettings;
  /** Whether its queue is FIFO (`<prefix>-<task>.fifo`): ordered per message group, sent straight to SQS. */
  readonly fifo: boolean;
}

/** What `defineTask` takes: a name, a description and versions; everything else has a default. */
export interface TaskDefinitionInput<
  TName extends string,
  TVersions extends TaskVersionDefinitions = TaskVersionDefinitions,
> extends TaskFactsInput {
  readonly name: TName;
  readonly description: string;
  readonly versions: TVersions;
  readonly queue?: Partial<QueueSettings>;
  readonly fifo?: boolean;
}

/**
 * Declares a task type. Throws `TaskDefinitionError` for a bad name, no versions, a version
 * that is not a positive integer, queue settings outside AWS's ranges, or facts outside
 * `TASK_FACT_RANGES` (each violation with its path and range).
 */
export function defineTask<TName extends string, const TVersions extends TaskVersionDefinitions>(
  input: TaskDefinitionInput<TName, TVersions>,
): TaskDefinition<TName, TVersions> {
  if (!new RegExp(TASK_NAME_PATTERN).test(input.name)) {
    throw new TaskDefinitionError(`task name "${input.name}" must match ${TASK_NAME_PATTERN}`);
  }
  const versions = Object.keys(input.versions).map(Number);
  if (versions.length === 0 || versions.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new TaskDefinitionError(`task "${input.name}" needs versions numbered 1, 2, ...`);
  }
  const queue = { ...DEFAULT_QUEUE_SETTINGS, ...input.queue };
  const violations = checkQueueSettings(queue);
  if (violations.length > 0) {
    throw new TaskDefinitionError(
      `task "${input.name}" has invalid queue settings: ${violations.map((v) => v.message).join('; ')}`,
    );
  }
  const { facts, violations: factViolations } = resolveTaskFacts(input);
  if (factViolations.length > 0) {
    throw new TaskDefinitionError(
      `task "${input.name}" has invalid settings: ${factViolations.map((v) => `${v.path}: ${v.message}`).join('; ')}`,
    );
  }
  return {
    name: input.name,
    description: input.description,
    versions: input.versions,
    latestVersion: Math.max(...versions),
    queue,
    fifo: input.fifo ?? false,
    ...facts,
  };
}

/** A compiled payload validator for one task version. */
export interface PayloadValidator {
  readonly task: string;
  readonly version: number;
  readonly definition: TaskVersionDefinition;
  /** Every violation of the payload, paths relative to the payload; empty when valid. */
  violations(payload: unknown): Violation[];
}

/** The set of task types the producer, the worker runtime, the topology and the CLI agree on. */
export interface TaskRegistry {
  /** Registered names, in registration order. */
  names(): string[];
  has(name: string): boolean;
  /** The definition, or undefined when `name` is not registered. */
  get(name: string): TaskDefinition | undefined;
  /** The compiled validator for a version, or undefined when the task or version is unknown. Compiled once, on first use. */
  validator(name: string, version: number): PayloadValidator | undefined;
}

/** Builds a registry. Throws `TaskDefinitionError` on duplicate names. */
export function createRegistry(definitions: readonly TaskDefinition[]): TaskRegistry {
  registerFormats();
  const byName = new Map<string, TaskDefinition>();
  for (const definition of definitions) {
    if (byName.has(definition.name)) throw new TaskDefinitionError(`task "${definition.name}" is defined twice`);
    byName.set(definition.name, definition);
  }
  const compiled = new Map<string, PayloadValidator>();

  return {
    names: () => [...byName.keys()],
    has: (name) => byName.has(name),
    get: (name) => byName.get(name),
    validator(name, version) {
      const key = `${name}@${version}`;
      const cached = compiled.get(key);
      if (cached) return cached;
      const definition = byName.get(name)?.versions[version];
      if (!definition) return undefined;
      const check: TypeCheck<TObject> = TypeCompiler.Compile(definition.schema);
      const validator: PayloadValidator = {
        task: name,
        version,
        definition,
        violations(payload) {
          const found = collectViolations(check, payload);
          if (definition.refine && typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
            found.push(...definition.refine(payload as Record<string, unknown>));
          }
          return found;
        },
      };
      compiled.set(key, validator);
      return validator;
    },
  };
}
