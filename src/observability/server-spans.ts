import type { AsyncLocalStorage } from 'node:async_hooks';
import { propagation, ROOT_CONTEXT, SpanKind, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { RequestState } from '../auth/pipeline.ts';
import { requestChannel, type RequestTrace } from '../http/request-tracing.ts';
import type { RouteName } from '../http/route-names.ts';
import { pathOf } from '../http/target.ts';
import { failed, keepContext } from './spans.ts';

const SPAN = Symbol('tessera.span');
type Spanned = RequestTrace & { [SPAN]?: Span };

// HTTP semantic conventions: a method outside the known set is reported as _OTHER (with the original beside it).
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE']);

/**
 * One server span per request, made from the `tessera.request` channel: started when the
 * listener starts (continuing the trace of an incoming W3C `traceparent`), active for all
 * of the request's work through the context store bound to the channel, and ended when
 * the response is over, named `METHOD route` once the route is known. An unsampled request
 * gets a non-recording span and enters no context (context-manager.ts): it makes no child
 * spans, and its context is kept on the request for the provider call, which carries the
 * decision on.
 *
 * `templates` gives `http.route` (the route's path as declared) for a route name.
 */
export function traceRequests(tracer: Tracer, storage: AsyncLocalStorage<Context>, templates: () => ReadonlyMap<RouteName, string>): () => void {
  // The store's value for the request: its context when sampled; none otherwise (SampledStorage runs it outside).
  const start = (t: Spanned): Context | undefined => {
    const parent = propagation.extract(ROOT_CONTEXT, t.request.headers);
    const method = t.request.method ?? '';
    const known = METHODS.has(method);
    const span = tracer.startSpan(known ? method : 'HTTP', { kind: SpanKind.SERVER, attributes: { 'http.request.method': known ? method : '_OTHER' } }, parent);
    t[SPAN] = span;
    keepContext(t.request, parent, span);
    if (!span.isRecording()) return undefined;
    if (!known) span.setAttribute('http.request.method_original', method);
    span.setAttribute('url.path', pathOf(t.request.url ?? ''));
    return trace.setSpan(parent, span);
  };
  const subscribers = {
    error(t: Spanned) {
      const span = t[SPAN];
      if (span?.isRecording()) failed(span, t.error);
    },
    asyncEnd(t: Spanned) {
      const span = t[SPAN];
      if (!span) return;
      if (span.isRecording()) {
        const status = t.response.statusCode;
        const route = t.route;
        const method = METHODS.has(t.request.method ?? '') ? t.request.method! : 'HTTP';
        span.updateName(`${method} ${route}`);
        span.setAttribute('http.response.status_code', status);
        span.setAttribute('tessera.operation_id', route);
        const template = templates().get(route);
        if (template) span.setAttribute('http.route', template);
        // API operations (and only they) carry the pipeline's state: `none` when no token source was identified.
        const state = (t.request as { tessera?: RequestState }).tessera;
        if (state) span.setAttribute('tessera.token_source', state.tokenSource ?? 'none');
        // A 5xx whose error reached the channel is marked already; any other (a 503 of a dependency check) by its status.
        if (status >= 500 && t.error === undefined) failed(span, String(status));
      }
      span.end();
    },
  };
  requestChannel.start.bindStore(storage, start as (t: RequestTrace) => Context);
  requestChannel.subscribe(subscribers as Parameters<typeof requestChannel.subscribe>[0]);
  return () => {
    requestChannel.unsubscribe(subscribers as Parameters<typeof requestChannel.subscribe>[0]);
    requestChannel.start.unbindStore(storage);
  };
}
