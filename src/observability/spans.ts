import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';

/**
 * Child spans at the boundaries we own (the store, the database, the model provider) and
 * the trace context a provider request carries on. Set once tracing starts (tracing.ts);
 * while it is off every helper returns at once and nothing of OpenTelemetry runs.
 */
let tracer: Tracer | null = null;

export function useTracer(t: Tracer | null): void {
  tracer = t;
}

/** Whether spans are made at all: callers check it before building a span's name and attributes. */
export function tracingOn(): boolean {
  return tracer !== null;
}

/**
 * Runs `fn` in a client span under the active span when that one is recorded (a sampled
 * request); otherwise just runs it, so unsampled requests and background work cost a check.
 */
export function clientSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (tracer === null) return fn();
  const parent = context.active();
  if (!trace.getSpan(parent)?.isRecording()) return fn();
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  return context.with(trace.setSpan(parent, span), fn).then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      failed(span, err);
      span.end();
      throw err;
    },
  );
}

/**
 * Marks a span as failed by the error's class (or a status code) only: an error's message
 * can quote a value (a query parameter, a header), and nothing exported may carry a token
 * or run content.
 */
export function failed(span: Span, err: unknown): void {
  span.setAttribute('error.type', err instanceof Error ? err.constructor.name : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** Adds `traceparent` (and `tracestate`) for the active context to outgoing headers; the headers as they were while tracing is off. */
export function withTraceContext(headers: Record<string, string>): Record<string, string> {
  if (tracer !== null) propagation.inject(context.active(), headers);
  return headers;
}
