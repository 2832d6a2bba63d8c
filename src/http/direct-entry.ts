import type { Express, Request, RequestHandler, Response } from 'express';

/** Set on a request whose surface passed an error on, so that express's way takes it from there. */
const PASSED_ON = Symbol('passed on by a directly entered surface');

type Before = (req: Request, res: Response) => void;

interface DirectEntry {
  /** Where the surface is mounted (`app.use(base, surface)`), as typed in URLs: the fast check is case-sensitive. */
  base: string;
  /** Prefixes under `base` of earlier mounts (OAuth's): URLs under them take express's way (matched as express does, in any case). */
  elsewhere: string[];
  surface: RequestHandler;
}

/**
 * The app's first middleware (`before`: the request id, base headers, access log), plus
 * a way in for one surface that skips express's app router.
 *
 * Requests for the surface, in their usual form (an origin-form URL under `base/`, made
 * only of characters parseurl reads as a plain path, not under an earlier mount's prefix),
 * go from the app's entry straight to the surface: express's per-request router setup,
 * the matching of every mount before it and the mount's URL trimming cost on every call
 * (docs/performance.md). What they would have met on express's way is done here: the
 * request and response set up as `app.handle` does, `before`, and the mount's trimming
 * (`req.baseUrl` is `base`, `req.url` the rest, with its leading slash). Every other
 * request takes express's way, where the surface is mounted at `base` as usual, so a URL
 * this check leaves alone is served as before. An error the surface passes on (its error
 * mapper does when the response has started) re-enters express's way with the URL as it
 * came, and goes from the first middleware on to the app's later error handlers, as it
 * would have; so does a throw from `before` or the surface. With X-Powered-By on, every
 * request takes express's way (re-entering it would set that header on a started response).
 */
export function enterDirectly(app: Express, before: Before[], entry: DirectEntry): void {
  const { base, surface } = entry;
  const under = new RegExp(`^${escaped(base)}/[^?#\\s]*(?:\\?[^#\\s]*)?$`);
  // Never matches when there are none.
  const elsewhere = new RegExp(`^(?:${entry.elsewhere.map(escaped).join('|') || '(?!)'})(?:[/?]|$)`, 'i');
  app.use((req, res, next) => {
    const passed = (req as Passed)[PASSED_ON];
    if (passed !== undefined) return next(passed);
    for (const b of before) b(req, res);
    next();
  });
  const internal = app as unknown as Internal;
  const routed = internal.handle;
  internal.handle = function handle(this: Internal, req, res, callback) {
    const url = req.url;
    // With X-Powered-By on, express's way: app.handle sets it, and re-entering app.handle with an
    // error passed on after the response started would set it again and throw out of the server.
    if (!under.test(url) || elsewhere.test(url) || this.enabled('x-powered-by')) return routed.call(this, req, res, callback);
    // As app.handle and the router do before the first middleware.
    req.res = res;
    res.req = req;
    Object.setPrototypeOf(req, this.request);
    Object.setPrototypeOf(res, this.response);
    if (!res.locals) res.locals = Object.create(null) as Response['locals'];
    req.originalUrl = req.originalUrl || url;
    const passOn = (err?: unknown): void => {
      req.url = url;
      req.baseUrl = '';
      if (err === undefined || err === null) err = new Error(`the surface at ${base} passed a request on without an error`);
      (req as Passed)[PASSED_ON] = err;
      routed.call(this, req, res, callback);
    };
    // A throw from `before` or the surface goes to the later error handlers, as express's
    // router would send it, rather than out of the server's request event.
    try {
      for (const b of before) b(req, res);
      // As the mount at `base` does.
      req.baseUrl = base;
      req.url = url.slice(base.length);
      surface(req, res, passOn);
    } catch (err) {
      passOn(err);
    }
  };
}

type Passed = Request & { [PASSED_ON]?: unknown };

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** What express's app object has beyond its types: `handle` and the prototypes it gives requests and responses. */
interface Internal {
  handle(req: Request, res: Response, callback?: (err?: unknown) => void): void;
  enabled(setting: string): boolean;
  request: object;
  response: object;
}
