import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, type Router } from 'express';
import { match } from 'path-to-regexp';
import { perServices } from '../services.ts';
import { isWellEncoded, malformedPath, RequestProblem } from './request-problem.ts';
import { releaseHeaders } from './held-headers.ts';
import { fixedRouteName, type RouteName } from './route-names.ts';
import { nameRoute } from './request-tracing.ts';

/** Where a route lives decides how its errors look: API shape, RFC 6749 §5.2, or HTML. */
export type Surface = 'api' | 'oauth' | 'console-api' | 'page';
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
const METHODS: readonly Method[] = ['get', 'post', 'put', 'patch', 'delete'];

/** One declared route, with its full path (`/openapi/v1/apps/:app_id/info`). */
export interface ManifestRoute {
  surface: Surface;
  method: Method;
  path: string;
  /** What the requests it serves are traced and counted under (route-names.ts). */
  name: RouteName;
}

export interface SurfaceOptions {
  /** Where the router is mounted; checked on every request. */
  base: string;
  /**
   * `prefix`: every path under `base` belongs to this surface (it answers their 400s and
   * 404s). `routes`: the router shares its mount point with others and owns only the
   * paths of its own routes.
   */
  owns: 'prefix' | 'routes';
  /** Whether HEAD is served wherever GET is (express does that unless a later check refuses it). */
  head: boolean;
  /** Middleware that runs before the front check (CORS, anti-framing), so its headers are on every answer. */
  front?: RequestHandler[];
}

interface Declared {
  method: Method;
  path: string;
  /** What requests it serves are traced and counted under (route-names.ts). */
  name: RouteName;
  matches: (path: string) => boolean;
  /**
   * Set for a route of a served surface (ManifestSurface.route): its handler, the parameters a
   * path gives it, and whether it writes responses with their headers held (held-headers.ts).
   */
  operation?: { handler: RequestHandler; params: (path: string) => Record<string, string>; held: boolean };
}

/** The operation that serves a method on a path, and that path's parameters (decoded, as express decodes them). */
interface Dispatch {
  handler: RequestHandler;
  params: Readonly<Record<string, string>>;
  name: RouteName;
  held: boolean;
}

/**
 * A surface served by one function instead of an express Router (the API): CORS and the
 * like, the front check, the body parser, the route, and the surface's error mapper, in
 * that order, with no router layers in between. Every route is found from the front
 * check's remembered answer for its path (one lookup per path, not per route), and its
 * handler runs without express's per-route dispatch. Matching is express's own
 * (path-to-regexp, case-insensitive, optional trailing slash, parameters percent-decoded,
 * the first route declared for a method wins). HEAD is not served: it gets 405, as does
 * any method a path does not declare.
 */
export interface ManifestSurface {
  /**
   * Declares a route of this surface (like a router's `get`/`post`/…), named by `o.name` (an
   * operationId) or else route-names.ts. Its handler gets the response with its headers
   * released (held-headers.ts), unless `o.held`: then it writes with `writeHeld` or releases them itself.
   */
  route(method: Method, path: string, handler: RequestHandler, o?: { name?: RouteName; held?: boolean }): void;
  /**
   * The surface as one middleware, for `app.use(base, …)`.
   * - `body`: runs for every method but GET and HEAD before the route (a body parser);
   * - `errors`: renders whatever the front check, the body parser or a route passes on,
   *   and every path under the base that no route serves (a 404 `notFound()`).
   * An error the mapper passes on leaves the surface through `next`.
   */
  serve(opts: { body: RequestHandler; notFound: () => Error; errors: ErrorRequestHandler }): RequestHandler;
}

interface SurfaceRecord extends SurfaceOptions {
  surface: Surface;
  routes: Declared[];
  /** What each recently seen path allows (null: no route of this surface matches it). */
  seen: Map<string, Allowed | null>;
}

/** The methods a path allows, HEAD and OPTIONS included, the `Allow` header that lists them, and the operations among them. */
interface Allowed {
  methods: ReadonlySet<string>;
  header: string;
  /** METHOD → the name of the route that serves it (HEAD: GET's, where the surface serves HEAD). */
  names: ReadonlyMap<string, RouteName>;
  /** METHOD → operation, when the first route declared for that method on this path is one. */
  operations: ReadonlyMap<string, Dispatch>;
}

/**
 * Paths whose answer is remembered per surface. Matching a path against every declared
 * route costs more than the rest of the front check together; a hot API sees few distinct
 * paths. A flood of distinct paths only evicts (oldest first), costing what no memo would.
 */
const PATHS_REMEMBERED = 1_000;

/**
 * Every route of the app, declared through the routers this manifest hands out.
 * Declaring a route is all it takes for it to get, in front of every handler:
 * - 400 for a path that is not valid percent-encoding (before express would throw
 *   decoding a parameter),
 * - 405 with `Allow` for a known path and another method, 204 with `Allow` for a plain
 *   OPTIONS (CORS preflights are answered earlier, by the CORS middleware),
 * and to be walked by the hostile-input test. Errors go to `next`, so each surface's
 * own error mapper renders them.
 */
export class RouteManifest {
  private readonly surfaces: SurfaceRecord[] = [];

  get routes(): ManifestRoute[] {
    return this.surfaces.flatMap((s) => s.routes.map((r) => ({ surface: s.surface, method: r.method, path: joinPath(s.base, r.path), name: r.name })));
  }

  /** An express Router whose `get`/`post`/`put`/`patch`/`delete` routes are recorded here. */
  router(surface: Surface, opts: SurfaceOptions): Router {
    const record: SurfaceRecord = { surface, ...opts, routes: [], seen: new Map() };
    this.surfaces.push(record);
    const router = express.Router();
    for (const handler of opts.front ?? []) router.use(handler);
    router.use(frontCheck(record));
    for (const method of METHODS) {
      const declare = router[method].bind(router) as (...args: unknown[]) => Router;
      router[method] = ((path: unknown, ...handlers: unknown[]) => {
        for (const p of Array.isArray(path) ? path : [path]) {
          if (typeof p !== 'string') throw new Error(`${surface} routes are declared with string paths`);
          const test = match(p, MATCHING);
          record.routes.push({ method, path: p, name: fixedRouteName(method, joinPath(opts.base, p)), matches: (x) => test(x) !== false });
        }
        record.seen.clear();
        return declare(path, ...handlers);
      }) as never;
    }
    return router;
  }

  /**
   * A surface that owns every path under `base` and is served by one function
   * (ManifestSurface). `front` runs first, so its headers are on every answer.
   */
  surface(surface: Surface, opts: { base: string; front?: RequestHandler[] }): ManifestSurface {
    const record: SurfaceRecord = { surface, base: opts.base, owns: 'prefix', head: false, routes: [], seen: new Map() };
    this.surfaces.push(record);
    const front = opts.front ?? [];
    return {
      route(method, path, handler, o = {}) {
        const name = o.name ?? fixedRouteName(method, joinPath(opts.base, path));
        const test = match(path, MATCHING);
        const read = match<Record<string, string>>(path, { ...MATCHING, decode: decodeParam });
        const params = (x: string) => {
          const found = read(x);
          return found ? found.params : {};
        };
        record.routes.push({ method, path, name, matches: (x) => test(x) !== false, operation: { handler, params, held: o.held === true } });
        record.seen.clear();
      },
      serve({ body, notFound, errors }) {
        return (req, res, next) => {
          const fail = (err: unknown): void => {
            releaseHeaders(res);
            try {
              errors(err, req, res, next);
            } catch (e) {
              next(e);
            }
          };
          // Each stage calls on: front handlers, then the check, the body, the route, and 404 if the route passes on.
          let stage = 0;
          let allowed: Allowed | null = null;
          const on = (err?: unknown): void => {
            if (err !== undefined && err !== null) return fail(err);
            try {
              if (stage < front.length) return void front[stage++]!(req, res, on);
              const at = stage++ - front.length;
              if (at === 0) {
                const path = req.path;
                allowed = allowedFor(record, path);
                const verdict = frontVerdict(allowed, path, req, res);
                if (verdict === ANSWERED) return;
                if (verdict) return fail(verdict);
                if (req.method === 'GET' || req.method === 'HEAD') stage++;
                else return void body(req, res, on);
              }
              if (at <= 1) {
                const route = allowed?.operations.get(req.method);
                if (route) {
                  nameRoute(req, route.name);
                  // A copy: handlers and the validator may replace or change req.params; the remembered ones stay as found.
                  req.params = { ...route.params };
                  if (!route.held) releaseHeaders(res);
                  const result: unknown = route.handler(req, res, on);
                  if (result instanceof Promise) result.catch(fail);
                  return;
                }
              }
              fail(notFound());
            } catch (e) {
              fail(e);
            }
          };
          on();
        };
      },
    };
  }
}

/** How express matches a route path (router 2.x with default settings), without decoding parameters. */
const MATCHING = { decode: false as const, end: true, trailing: true, sensitive: false };

/** Whether a path is one of `paths`, matched as express matches routes (any case, optional trailing slash). */
export function pathMatcher(paths: readonly string[]): (path: string) => boolean {
  const tests = paths.map((p) => match(p, MATCHING));
  return (path) => tests.some((test) => test(path) !== false);
}

/** As express decodes a path parameter (a URIError for bad percent-encoding, whose path the front check refuses). */
function decodeParam(value: string): string {
  return value.includes('%') ? decodeURIComponent(value) : value;
}

/** One manifest per app instance. */
export const routeManifestFor = perServices(() => new RouteManifest());

function joinPath(base: string, path: string): string {
  return path === '/' && base !== '' ? base : `${base}${path}`;
}

function allowedFor(record: SurfaceRecord, path: string): Allowed | null {
  const known = record.seen.get(path);
  if (known !== undefined) return known;
  const methods = new Set<string>();
  const operations = new Map<string, Dispatch>();
  const names = new Map<string, RouteName>();
  for (const r of record.routes) {
    if (!r.matches(path)) continue;
    const method = r.method.toUpperCase();
    if (!names.has(method)) names.set(method, r.name);
    // Like express, the first route declared for a method serves it.
    if (r.operation && !methods.has(method)) {
      // A parameter that is not valid percent-encoding: the front check refuses the path (400).
      let params: Record<string, string> | null = null;
      try {
        params = r.operation.params(path);
      } catch {
        /* refused below */
      }
      if (params) operations.set(method, { handler: r.operation.handler, params, name: r.name, held: r.operation.held });
    }
    methods.add(method);
  }
  let allowed: Allowed | null = null;
  if (methods.size > 0) {
    if (record.head && methods.has('GET')) {
      methods.add('HEAD');
      if (!names.has('HEAD')) names.set('HEAD', names.get('GET')!);
    }
    methods.add('OPTIONS');
    allowed = { methods, header: [...methods].join(', '), names, operations };
  }
  if (record.seen.size >= PATHS_REMEMBERED) record.seen.delete(record.seen.keys().next().value!);
  record.seen.set(path, allowed);
  return allowed;
}

function frontCheck(record: SurfaceRecord): RequestHandler {
  const base = record.base.toLowerCase();
  return (req, res, next) => {
    // Mount paths match case-insensitively, like every express path.
    if (req.baseUrl !== record.base && req.baseUrl.toLowerCase() !== base) {
      return next(new Error(`the ${record.surface} router is declared at "${record.base}" but mounted at "${req.baseUrl}"`));
    }
    const allowed = allowedFor(record, req.path);
    if (!allowed && record.owns === 'routes') return next();
    const verdict = frontVerdict(allowed, req.path, req, res);
    if (verdict === ANSWERED) return;
    const name = verdict ? undefined : allowed?.names.get(req.method);
    if (name) nameRoute(req, name);
    next(verdict ?? undefined);
  };
}

const ANSWERED = 'answered';

/**
 * The front check's verdict on a path of the surface: 400 for malformed percent-encoding,
 * for a path a route serves a 204 with `Allow` to a plain OPTIONS (answered here) or a 405
 * for another method; null to go on.
 */
function frontVerdict(allowed: Allowed | null, path: string, req: Request, res: Response): RequestProblem | typeof ANSWERED | null {
  if (!isWellEncoded(path)) return malformedPath();
  if (!allowed) return null;
  if (req.method === 'OPTIONS') {
    releaseHeaders(res);
    res.set('Allow', allowed.header).status(204).end();
    return ANSWERED;
  }
  return allowed.methods.has(req.method) ? null : notAllowed(req.method, allowed);
}

function notAllowed(method: string, allowed: Allowed): RequestProblem {
  return new RequestProblem(405, 'method_not_allowed', `This path does not support ${method}; it allows ${allowed.header}.`, { Allow: allowed.header });
}
