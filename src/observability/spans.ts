import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';

/**
 * Child spans at the boundaries we own (the store, the database, the model provider) and
 * the trace context a provider request carries on. Set once tracing starts (tracing.ts);
 * while it is off every helper returns at once and nothing of OpenTelemetry runs.
 */
let tracer: Tracer | null = null;

export function useTracer(t: Tracer | null): void {
  tracer = t;
}

/** Whether a child span would be made here (a sampled request is running): callers check it before building a span's name and attributes. */
export function recording(): boolean {
  return tracer !== null && trace.getSpan(context.active())?.isRecording() === true;
}

/**
 * Runs `fn` in a client span under the active span when that one is recorded (a sampled
 * request); otherwise just runs it, so unsampled requests and background work cost a check.
 * The span does not become the active one (nothing runs below a store command or a query,
 * and entering a context costs): `fn` gets its context, to carry it on to another service.
 */
export function clientSpan<T>(name: string, attributes: Attributes, fn: (ctx?: TraceContext) => Promise<T>): Promise<T> {
  if (tracer === null) return fn();
  const parent = context.active();
  if (!trace.getSpan(parent)?.isRecording()) return fn();
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  return fn(trace.setSpan(parent, span)).then(
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

/**
 * Adds `traceparent` (and `tracestate`) to outgoing headers: of `ctx` (the client span's, or
 * an unsampled request's, which enters no context), else of the active context; the
 * headers as they were while tracing is off.
 */
export function withTraceContext(headers: Record<string, string>, ctx?: TraceContext): Record<string, string> {
  if (tracer !== null) propagation.inject(ctx ?? context.active(), headers);
  return headers;
}

/** A request's trace context, opaque to the code that carries it to a boundary. */
export type TraceContext = Context;

const PARENT = Symbol('tessera.trace-parent');
const SPAN = Symbol('tessera.trace-span');
type Kept = { [PARENT]?: Context; [SPAN]?: Span };

/** Keeps a request's server span and its parent context on the request (server-spans.ts); the context is made only when asked for. */
export function keepContext(request: object, parent: Context, span: Span): void {
  (request as Kept)[PARENT] = parent;
  (request as Kept)[SPAN] = span;
}

/** The trace context of a request while tracing is on. */
export function traceContextOf(request: object): TraceContext | undefined {
  const { [PARENT]: parent, [SPAN]: span } = request as Kept;
  return parent && span ? trace.setSpan(parent, span) : undefined;
}
