import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

/** What the server serves: the app's request listener (src/http/front-dispatcher.ts) and its express app. */
export interface Servable {
  express: Express;
  handler: http.RequestListener;
}

export interface AppServer {
  server: http.Server;
  /** Gives the server its app (and a listener to use instead of the app's own, for tests that watch responses). */
  serve(app: Servable, listener?: http.RequestListener): void;
}

/**
 * The HTTP server for a Tessera app, whose requests and responses are made with the app's
 * request and response API from the start: their prototypes are `app.request` and
 * `app.response`, express's documented app-level extension points, through node's documented
 * `IncomingMessage` and `ServerResponse` server options. Nothing of either is changed.
 * The API way (src/http/front-dispatcher.ts) then needs no prototype change at all, and on
 * express's way `app.handle` sets the prototype they already have, which costs nothing: an
 * object whose prototype changes after it was made gets new hidden classes and kilobytes of
 * allocation per request (docs/performance.md).
 *
 * Until `serve` gives it an app (a test server listens first, to know its own URL), it
 * answers 503; requests made before that never reach an app.
 */
export function appServer(app?: Servable): AppServer {
  let listener: http.RequestListener = (_req, res) => void res.writeHead(503).end();
  function Request(this: http.IncomingMessage, socket: Socket): void {
    http.IncomingMessage.call(this, socket);
  }
  Request.prototype = Object.create(http.IncomingMessage.prototype) as object;
  function Response(this: http.ServerResponse, req: http.IncomingMessage, options?: http.ServerOptions): void {
    (http.ServerResponse as unknown as (this: http.ServerResponse, req: http.IncomingMessage, options?: http.ServerOptions) => void).call(this, req, options);
  }
  Response.prototype = Object.create(http.ServerResponse.prototype) as object;
  const server = http.createServer({ IncomingMessage: Request as never, ServerResponse: Response as never }, (req, res) => listener(req, res));
  const serve = (served: Servable, use: http.RequestListener = served.handler): void => {
    Request.prototype = served.express.request;
    Response.prototype = served.express.response;
    listener = use;
  };
  if (app) serve(app);
  return { server, serve };
}
