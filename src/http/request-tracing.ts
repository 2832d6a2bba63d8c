import { tracingChannel } from 'node:diagnostics_channel';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { OTHER, type RouteName } from './route-names.ts';

/**
 * What the `tessera.request` tracing channel carries: one object per request, the same
 * object in every event of that request (docs/http.md, "Observing requests").
 */
export interface RequestTrace {
  request: IncomingMessage;
  response: ServerResponse;
  /** The operationId, the fixed name of an RFC endpoint, console route or page, or `other`: final once the response is over. */
  route: RouteName;
  /** What failed, when an error reached a surface's last handler as a 5xx or left the server's listener. */
  error?: unknown;
}

/**
 * Every request, whichever way the server serves it, as fastify publishes its handler on
 * `fastify.request.handler`: tracers and metrics subscribe here instead of patching anything.
 * Nothing is made or published while nobody subscribes.
 */
export const requestChannel = tracingChannel<unknown, RequestTrace>('tessera.request');

const TRACE = Symbol('tessera.request');
type Traced = IncomingMessage & { [TRACE]?: RequestTrace };

/**
 * The server's listener, traced: `start` before it runs (through `start.runStores`, so a
 * store bound to the channel, such as a tracer's context, covers all the request's work),
 * `end` when it returns, `asyncStart` and `asyncEnd` once the response is over (finished, or
 * its connection closed first), and `error` for a failure (requestFailed, or a throw).
 */
export function traced(listener: RequestListener): RequestListener {
  return (req, res) => {
    if (!requestChannel.hasSubscribers) return listener(req, res);
    const trace: RequestTrace = { request: req, response: res, route: OTHER };
    (req as Traced)[TRACE] = trace;
    res.once('close', () => {
      requestChannel.asyncStart.publish(trace);
      requestChannel.asyncEnd.publish(trace);
    });
    requestChannel.traceSync(listener, trace, undefined, req, res);
  };
}

/** Names the route that serves a traced request (a no-op while nobody subscribes). */
export function nameRoute(req: IncomingMessage, name: RouteName): void {
  const trace = (req as Traced)[TRACE];
  if (trace !== undefined) trace.route = name;
}

/** Publishes `error` for a request whose failure a surface turned into a 5xx (or could not answer at all). */
export function requestFailed(req: IncomingMessage, error: unknown): void {
  const trace = (req as Traced)[TRACE];
  if (trace === undefined) return;
  trace.error = error;
  requestChannel.error.publish(trace);
}
