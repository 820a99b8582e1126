import {
  context,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { formatTraceparent, parseTraceparent } from '@tq/contracts';

/** Parses a W3C `traceparent` (version 00) into a remote span context. */
export function remoteSpanContext(traceparent: string | undefined, tracestate?: string): SpanContext | undefined {
  const parts = parseTraceparent(traceparent);
  if (!parts) return undefined;
  const spanContext: SpanContext = { ...parts, traceFlags: parts.traceFlags & 1, isRemote: true };
  if (tracestate) spanContext.traceState = createTraceState(tracestate);
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** True once an OpenTelemetry SDK has registered a tracer provider. */
function tracingEnabled(): boolean {
  const provider = trace.getTracerProvider() as { getDelegateTracer?: (name: string) => unknown };
  return typeof provider.getDelegateTracer !== 'function' || provider.getDelegateTracer('@tq/worker') !== undefined;
}

// A proxy: it delegates to whatever tracer provider an OpenTelemetry SDK registers, even later.
const tracer = trace.getTracer('@tq/worker');

/** What runs inside a message's span: an object, so the hot path makes no closures per message. */
export interface SpanBody<T> {
  /** The span's attributes; asked for only when the span is recorded. */
  spanAttributes(): Record<string, string | number>;
  /** Runs inside the span with the attempt's `traceparent` and trace id. */
  runInSpan(traceparent: string | undefined, traceId: string | undefined): Promise<T>;
}

/**
 * Runs `body` inside a CONSUMER span that continues the message's trace, and gives it the
 * attempt's `traceparent` and trace id. With an OpenTelemetry SDK registered the span is
 * recorded and is the active context inside `body` (so a task the handler sends continues the
 * same trace); without one no span is made and `body` gets the message's own trace context.
 * `body.spanAttributes` is only called when the span is recorded.
 */
export function withMessageSpan<T>(
  name: string,
  traceparent: string | undefined,
  tracestate: string | undefined,
  body: SpanBody<T>,
): Promise<T> {
  if (!tracingEnabled()) {
    const remote = traceparent === undefined ? undefined : remoteSpanContext(traceparent);
    return remote ? body.runInSpan(formatTraceparent(remote), remote.traceId) : body.runInSpan(undefined, undefined);
  }
  const remote = remoteSpanContext(traceparent, tracestate);
  const parent = remote ? trace.setSpanContext(ROOT_CONTEXT, remote) : context.active();
  return tracer.startActiveSpan(
    name,
    { kind: SpanKind.CONSUMER, attributes: body.spanAttributes() },
    parent,
    async (span: Span) => {
      try {
        const spanContext = span.spanContext();
        const valid = isSpanContextValid(spanContext);
        const result = await body.runInSpan(
          valid ? formatTraceparent(spanContext) : undefined,
          valid ? spanContext.traceId : undefined,
        );
        span.setStatus({ code: SpanStatusCode.OK });
        return result;
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
