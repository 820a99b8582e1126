/** One rule a value broke: where (a JSON Pointer into the checked value) and what. */
export interface Violation {
  /** JSON Pointer (RFC 6901) to the offending value, `''` for the root. */
  readonly path: string;
  /** Human-readable description of the rule that was broken. */
  readonly message: string;
}

/**
 * Why a task was rejected:
 * - `INVALID_JSON`: a string input is not JSON.
 * - `NOT_AN_OBJECT`: the input is not a JSON object.
 * - `UNKNOWN_TASK`: the `task` field names no registered task type.
 * - `UNSUPPORTED_VERSION`: the task type exists but not in that version.
 * - `SCHEMA_VIOLATION`: the envelope or payload breaks its schema; see `violations`.
 */
export type TaskValidationErrorCode =
  | 'INVALID_JSON'
  | 'NOT_AN_OBJECT'
  | 'UNKNOWN_TASK'
  | 'UNSUPPORTED_VERSION'
  | 'SCHEMA_VIOLATION';

const TASK_VALIDATION_ERROR = Symbol.for('@tq/contracts/TaskValidationError');

/**
 * Thrown by `createTask` and returned by `parseTask` when input is not a valid task.
 * `violations` lists every broken rule with its path, not only the first.
 */
export class TaskValidationError extends Error {
  override readonly name = 'TaskValidationError';
  readonly code: TaskValidationErrorCode;
  /** The task type named by the input, when it named one. */
  readonly task: string | undefined;
  /** The version named by the input, when it named one. */
  readonly version: number | undefined;
  readonly violations: readonly Violation[];

  constructor(
    code: TaskValidationErrorCode,
    message: string,
    details: {
      task?: string | undefined;
      version?: number | undefined;
      violations?: readonly Violation[];
      cause?: unknown;
    } = {},
  ) {
    const violations = details.violations ?? [];
    super(
      violations.length > 0
        ? `${message}\n${violations.map((v) => `  ${v.path || '/'}: ${v.message}`).join('\n')}`
        : message,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.code = code;
    this.task = details.task;
    this.version = details.version;
    this.violations = violations;
    Object.defineProperty(this, TASK_VALIDATION_ERROR, { value: true });
  }
}

/** True for a `TaskValidationError`, even one created by another copy of this package. */
export function isTaskValidationError(value: unknown): value is TaskValidationError {
  return typeof value === 'object' && value !== null && TASK_VALIDATION_ERROR in value;
}

/** Thrown by `defineTask`/`createRegistry` when a task definition itself is malformed. */
export class TaskDefinitionError extends Error {
  override readonly name = 'TaskDefinitionError';
  readonly code = 'INVALID_DEFINITION' as const;
}

/**
 * Why a flow was refused before anything was sent:
 * - `INVALID_FLOW`: a node's shape, a task's name or version, or a payload breaks the rules;
 * - `FLOW_TOO_LARGE`: more tasks or deeper nesting than `FLOW_LIMITS` allows.
 */
export type FlowValidationErrorCode = 'INVALID_FLOW' | 'FLOW_TOO_LARGE';

const FLOW_VALIDATION_ERROR = Symbol.for('@tq/contracts/FlowValidationError');

/**
 * Thrown by `planFlow` (and so by `producer.flow` and `tq flow send`) when a flow is not valid:
 * `violations` lists every problem with its node's path (`$.group[3].payload.to`).
 */
export class FlowValidationError extends Error {
  override readonly name = 'FlowValidationError';
  readonly code: FlowValidationErrorCode;
  readonly violations: readonly Violation[];

  constructor(code: FlowValidationErrorCode, message: string, violations: readonly Violation[]) {
    super(`${message}\n${violations.map((v) => `  ${v.path}: ${v.message}`).join('\n')}`);
    this.code = code;
    this.violations = violations;
    Object.defineProperty(this, FLOW_VALIDATION_ERROR, { value: true });
  }
}

/** True for a `FlowValidationError`, even one created by another copy of this package. */
export function isFlowValidationError(value: unknown): value is FlowValidationError {
  return typeof value === 'object' && value !== null && FLOW_VALIDATION_ERROR in value;
}
