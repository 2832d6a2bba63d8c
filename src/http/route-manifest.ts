import express, { type RequestHandler, type Router } from 'express';
import { match } from 'path-to-regexp';
import { perServices } from '../services.ts';
import { isWellEncoded, malformedPath, RequestProblem } from './request-problem.ts';

/** Where a route lives decides how its errors look: API shape, RFC 6749 §5.2, or HTML. */
export type Surface = 'api' | 'oauth' | 'console-api' | 'page';
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
const METHODS: readonly Method[] = ['get', 'post', 'put', 'patch', 'delete'];

/** One declared route, with its full path (`/openapi/v1/apps/:app_id/info`). */
export interface ManifestRoute {
  surface: Surface;
  method: Method;
  path: string;
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
}

interface Declared {
  method: Method;
  path: string;
  matches: (path: string) => boolean;
}

interface SurfaceRecord extends SurfaceOptions {
  surface: Surface;
  routes: Declared[];
  /** What each recently seen path allows (null: no route of this surface matches it). */
  seen: Map<string, Allowed | null>;
}

/** The methods a path allows, HEAD and OPTIONS included, and the `Allow` header that lists them. */
interface Allowed {
  methods: ReadonlySet<string>;
  header: string;
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
    return this.surfaces.flatMap((s) => s.routes.map((r) => ({ surface: s.surface, method: r.method, path: joinPath(s.base, r.path) })));
  }

  /** An express Router whose `get`/`post`/`put`/`patch`/`delete` routes are recorded here. */
  router(surface: Surface, opts: SurfaceOptions): Router {
    const record: SurfaceRecord = { surface, ...opts, routes: [], seen: new Map() };
    this.surfaces.push(record);
    const router = express.Router();
    router.use(frontCheck(record));
    for (const method of METHODS) {
      const declare = router[method].bind(router) as (...args: unknown[]) => Router;
      router[method] = ((path: unknown, ...handlers: unknown[]) => {
        for (const p of Array.isArray(path) ? path : [path]) {
          if (typeof p !== 'string') throw new Error(`${surface} routes are declared with string paths`);
          const test = match(p, { decode: false, end: true, trailing: true, sensitive: false });
          record.routes.push({ method, path: p, matches: (x) => test(x) !== false });
        }
        record.seen.clear();
        return declare(path, ...handlers);
      }) as never;
    }
    return router;
  }
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
  for (const r of record.routes) if (r.matches(path)) methods.add(r.method.toUpperCase());
  let allowed: Allowed | null = null;
  if (methods.size > 0) {
    if (record.head && methods.has('GET')) methods.add('HEAD');
    methods.add('OPTIONS');
    allowed = { methods, header: [...methods].join(', ') };
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
    if (!isWellEncoded(req.path)) return next(malformedPath());
    if (!allowed) return next();
    if (req.method === 'OPTIONS') {
      res.set('Allow', allowed.header).status(204).end();
      return;
    }
    if (allowed.methods.has(req.method)) return next();
    next(new RequestProblem(405, 'method_not_allowed', `This path does not support ${req.method}; it allows ${allowed.header}.`, { Allow: allowed.header }));
  };
}
