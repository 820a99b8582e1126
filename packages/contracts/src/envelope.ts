import { type Static, type TObject, Type } from '@sinclair/typebox';
import { DATE_TIME_PATTERN, UUID_PATTERN } from './formats.js';
import { TASK_NAME_PATTERN } from './registry.js';

/** W3C Trace Context `traceparent`, version 00. */
export const TRACEPARENT_PATTERN = '^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The parts of a W3C trace context that `traceparent` carries (OpenTelemetry's `SpanContext` has them). */
export interface TraceparentParts {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

/** Formats a W3C `traceparent` (version 00), as envelopes carry it. */
export function formatTraceparent(parts: TraceparentParts): string {
  return `00-${parts.traceId}-${parts.spanId}-${(parts.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Splits a W3C `traceparent` (version 00); undefined when it is not one. */
export function parseTraceparent(traceparent: string | undefined): TraceparentParts | undefined {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { traceId: match[1], spanId: match[2], traceFlags: Number.parseInt(match[3], 16) };
}

/** A node's path in a flow: `$`, then `.chain[i]`, `.group[i]` and `.then` segments. */
export const FLOW_PATH_PATTERN = '^\\$(?:\\.(?:chain|group)\\[\\d{1,5}\\]|\\.then)*$';
/** A flow task's input: a node's path, or `<group path>.group` for a group's children. */
export const FLOW_INPUT_PATTERN = '^\\$(?:\\.(?:chain|group)\\[\\d{1,5}\\]|\\.then)*(?:\\.group)?$';

const envelopeFields = {
  /** Unique per task; workers use it (or `idempotencyKey`) to recognise redeliveries. */
  id: Type.String({ format: 'uuid', pattern: UUID_PATTERN, errorMessage: 'must be a UUID' }),
  task: Type.String({ pattern: TASK_NAME_PATTERN }),
  version: Type.Integer({ minimum: 1, maximum: 1000 }),
  createdAt: Type.String({
    format: 'date-time',
    pattern: DATE_TIME_PATTERN,
    errorMessage: 'must be an ISO-8601 date-time with a time zone',
  }),
  /** Caller-chosen key for deduplication, e.g. `order-123-receipt`. */
  idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' })),
  traceparent: Type.Optional(
    Type.String({
      pattern: TRACEPARENT_PATTERN,
      errorMessage: 'must be a W3C traceparent (00-<trace-id>-<span-id>-<flags>)',
    }),
  ),
  tracestate: Type.Optional(Type.String({ maxLength: 512, pattern: '^[\\x20-\\x7e]*$' })),
  /** Set on the tasks of a flow: which flow and node, where the input comes from, what a failure does. */
  flow: Type.Optional(
    Type.Object({
      id: Type.String({ format: 'uuid', pattern: UUID_PATTERN, errorMessage: 'must be a UUID' }),
      path: Type.String({ maxLength: 1024, pattern: FLOW_PATH_PATTERN }),
      input: Type.Optional(Type.String({ maxLength: 1024, pattern: FLOW_INPUT_PATTERN })),
      onFailure: Type.Optional(Type.Union([Type.Literal('fail'), Type.Literal('ignore'), Type.Literal('continue')])),
      shard: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
    }),
  ),
};

/**
 * The envelope around every payload. Unknown top-level fields are allowed (and dropped by
 * `parseTask`) so producers can add envelope fields before every worker knows them.
 */
export const Envelope = Type.Object({ ...envelopeFields, payload: Type.Unknown() });

/** Envelope fields other than the payload, for consumers that want them typed. */
export type EnvelopeMeta = Omit<Static<typeof Envelope>, 'payload'>;

/** The envelope of one task type and version with its payload schema inlined: what the JSON Schema files contain. */
export function envelopeSchemaFor(task: string, version: number, payload: TObject) {
  return Type.Object(
    { ...envelopeFields, task: Type.Literal(task), version: Type.Literal(version), payload },
    { title: `${task} v${version} task envelope` },
  );
}

/**
 * Envelope keys that are never payload fields in the seed article's flat form. Not `flow`: only
 * envelopes carry it, and a flat task's payload may have a field of that name.
 */
export const ENVELOPE_KEYS: ReadonlySet<string> = new Set(Object.keys(envelopeFields).filter((key) => key !== 'flow'));
