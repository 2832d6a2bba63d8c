import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Express, Request, RequestHandler, Response } from 'express';
import { holdHeaders, releaseHeaders } from './held-headers.ts';
import { requestFailed, traced } from './request-tracing.ts';

/** What runs first on every request, whichever way it is served (the request id, base headers, access log). */
export type Before = (req: Request, res: Response) => void;

export interface FrontDispatch {
  /** The express app: everything that is not a plain API URL, and the API itself in every other form. */
  app: Express;
  before: Before[];
  api: {
    /** Where the surface is mounted in the app too (`app.use(base, surface)`), as typed in URLs: the check is case-sensitive. */
    base: string;
    /** Prefixes under `base` of earlier mounts (OAuth's): their URLs go to the app (matched as express does, in any case). */
    elsewhere: string[];
    surface: RequestHandler;
  };
}

/**
 * The server's request listener: API URLs to the API surface, everything else to the
 * express app, every request traced on `tessera.request` (request-tracing.ts).
 *
 * An API URL is an origin-form target under `base/`, made only of characters express's URL
 * parsing reads as a plain path, and not under an earlier mount's prefix. The surface gets
 * it as express's mount would hand it over: `req.baseUrl` is `base`, `req.url` the rest
 * (with its leading slash), `req.originalUrl` the target; the request and response carry the
 * app's request and response API (`app.request`, `app.response`: express's documented
 * extension points, which the server gives them when it makes them, src/server/http-server.ts)
 * and the documented links `req.res`, `res.req` and `res.locals`; `before` runs first, as the
 * app's first middleware does on the app's way. The response's headers are held until it is
 * written (held-headers.ts), which the surface knows how to do. Every other request goes to the app, where
 * the surface is mounted at `base` as well, so a target this check leaves alone (another
 * case, an absolute URL, a fragment) is served as before. Nothing of express's is replaced
 * or skipped from inside: the API way simply does not enter express's app.
 *
 * An error the surface passes on (its error mapper does so only when the response has
 * already started) or a throw from `before` ends the request here: a started response is
 * cut off (its connection destroyed, as express's final handler does), an unstarted one
 * gets a bare 500.
 */
export function frontDispatcher({ app, before, api }: FrontDispatch): RequestListener {
  // express adds X-Powered-By in its app; the API way does not enter it, so the two ways would differ.
  if (app.enabled('x-powered-by')) throw new Error('the front dispatcher needs the app\'s x-powered-by setting off');
  const { base, surface } = api;
  const plain = new RegExp(`^${escaped(base)}/[^?#\\s]*(?:\\?[^#\\s]*)?$`);
  // Never matches when there are none.
  const elsewhere = new RegExp(`^(?:${api.elsewhere.map(escaped).join('|') || '(?!)'})(?:[/?]|$)`, 'i');
  const { request, response } = app;

  return traced((message: IncomingMessage, reply: ServerResponse) => {
    const url = message.url!;
    if (!plain.test(url) || elsewhere.test(url)) return void app(message, reply);
    // A server that did not make them with the app's prototypes (src/server/http-server.ts does) gets them now, as express would give them.
    if (Object.getPrototypeOf(message) !== request) Object.setPrototypeOf(message, request);
    if (Object.getPrototypeOf(reply) !== response) Object.setPrototypeOf(reply, response);
    const req = message as Request;
    const res = reply as Response;
    req.res = res;
    res.req = req;
    res.locals = Object.create(null) as Response['locals'];
    req.originalUrl = url;
    const fail = (err?: unknown): void => {
      requestFailed(req, err);
      releaseHeaders(res);
      if (res.headersSent) req.socket.destroy();
      else res.writeHead(500).end();
    };
    try {
      holdHeaders(res);
      for (const b of before) b(req, res);
      req.baseUrl = base;
      req.url = url.slice(base.length);
      surface(req, res, fail);
    } catch (err) {
      fail(err);
    }
  });
}

/** `before` as the app's first middleware, for the requests that take the app's way. */
export function runFirst(before: Before[]): RequestHandler {
  return (req, res, next) => {
    for (const b of before) b(req, res);
    next();
  };
}

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
