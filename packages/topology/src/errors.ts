import type { Violation } from '@tq/contracts';

/**
 * - `INVALID_SETTINGS`: a queue setting is outside AWS's range, or the configuration is inconsistent.
 * - `IMMUTABLE_ATTRIBUTE`: an existing resource differs in something AWS cannot change (FIFO-ness).
 * - `INVALID_SCHEDULE`: a schedule's name, expression, time zone or payload is invalid
 *   (`defineSchedule`), or it cannot run where it is deployed.
 * - `AWS_ERROR`: a call to SQS, SNS, S3 or EventBridge Scheduler failed; see `cause`.
 */
export type TopologyErrorCode = 'INVALID_SETTINGS' | 'INVALID_SCHEDULE' | 'IMMUTABLE_ATTRIBUTE' | 'AWS_ERROR';

const TOPOLOGY_ERROR = Symbol.for('@tq/topology/TopologyError');

/** Thrown by `defineTopology` for bad settings and by `plan`/`apply` when provisioning cannot proceed. */
export class TopologyError extends Error {
  override readonly name = 'TopologyError';
  readonly code: TopologyErrorCode;
  readonly violations: readonly Violation[];

  constructor(code: TopologyErrorCode, message: string, options: { violations?: Violation[]; cause?: unknown } = {}) {
    const violations = options.violations ?? [];
    super(
      violations.length > 0 ? `${message}\n${violations.map((v) => `  ${v.path}: ${v.message}`).join('\n')}` : message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.violations = violations;
    Object.defineProperty(this, TOPOLOGY_ERROR, { value: true });
  }
}

/** True for a `TopologyError`, even from another copy of this package. */
export function isTopologyError(value: unknown): value is TopologyError {
  return typeof value === 'object' && value !== null && TOPOLOGY_ERROR in value;
}
