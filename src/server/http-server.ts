import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

/**
 * The HTTP server for an express app, with its requests and responses made with the app's
 * prototypes (`app.request`, `app.response`) from the start. express gives them those
 * prototypes on every request (`Object.setPrototypeOf` in `app.handle`); an object whose
 * prototype changes after it was made costs new hidden classes and kilobytes of allocation
 * per request (docs/performance.md), while setting the prototype an object already has
 * costs nothing. What the app sees is the same either way.
 */
export function httpServerFor(app: Express): http.Server {
  function Request(this: http.IncomingMessage, socket: Socket): void {
    http.IncomingMessage.call(this, socket);
  }
  Request.prototype = app.request;
  function Response(this: http.ServerResponse, req: http.IncomingMessage, options?: http.ServerOptions): void {
    (http.ServerResponse as unknown as (this: http.ServerResponse, req: http.IncomingMessage, options?: http.ServerOptions) => void).call(this, req, options);
  }
  Response.prototype = app.response;
  return http.createServer({ IncomingMessage: Request as never, ServerResponse: Response as never }, app);
}
