import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pipelineFor, type PipelineDeps } from '../auth/pipeline.ts';
import { ApiError } from '../errors.ts';
import { AUTH_RESULTS, METRICS, type AuthResult } from '../observability/metric-catalog.ts';
import { count } from '../observability/metrics.ts';
import type { OperationId, Route, RouteTable } from './operations.ts';
import { releaseHeaders, writeHeld } from './held-headers.ts';
import type { ManifestSurface } from './route-manifest.ts';
import { specOperations, type SpecOperation } from './spec.ts';

/**
 * Mounts every spec operation from one table. Each route gets its guard from the
 * table and runs it before request validation, so an unauthenticated caller
 * learns nothing about the request shape. Throws at start when the table and
 * the spec disagree, or when a non-public operation would be mounted unguarded.
 * Operations are routes of the API surface, served by its one function (one lookup per
 * path, remembered) rather than by an express route each (docs/performance.md).
 */
export function mountOperations(
  surface: ManifestSurface,
  table: RouteTable,
  deps: PipelineDeps,
  validators: RequestHandler[],
  opts: { validateResponses: boolean },
): void {
  const validate = compose(validators);
  const ops = specOperations();
  const seen = new Set<string>();
  for (const op of ops) {
    const route = table[op.operationId as OperationId] as Route<OperationId> | undefined;
    if (!route) throw new Error(`no route for spec operation ${op.operationId}`);
    seen.add(op.operationId);
    if ((route.guard === 'public') !== op.public) {
      throw new Error(`${op.operationId}: guard ${route.guard} disagrees with the spec's security`);
    }
    const steps = pipelineFor(deps, { ...route, edition: op.enterprise ? 'enterprise' : undefined });
    const handler = compose([guard(steps), validationFor(op, validate, opts), handle(route, opts.validateResponses ? viaExpress : sendJson)]);
    surface.route(op.method, op.expressPath, handler, { name: op.operationId as OperationId, held: true });
  }
  for (const id of Object.keys(table)) if (!seen.has(id)) throw new Error(`route ${id} is not in openapi.yaml`);
}

/** Paths remembered per operation as valid; when full, it starts again (a flood only costs what no memo would). */
const VALID_PATHS = 10_000;

/**
 * In production (responses not validated), a GET whose parameters are in its path or its
 * (optional) query has nothing but its path to validate when the request has no query
 * string: no body, no headers or cookies the spec reads. Its outcome is then a function of
 * the path alone, so
 * - without path parameters there is nothing to check at all, and
 * - with them, a path that passed once passes again: it is remembered and not re-checked.
 * express-openapi-validator otherwise compiles every route's pattern on every request
 * (docs/performance.md). Anything else, and any request with a query string, is validated.
 */
function validationFor(op: SpecOperation, validate: RequestHandler, opts: { validateResponses: boolean }): RequestHandler {
  const fromPath = op.parameters.every((p) => p.in === 'path' || (p.in === 'query' && !p.required));
  if (opts.validateResponses || op.method !== 'get' || !fromPath) return validate;
  if (!op.parameters.some((p) => p.in === 'path')) return (req, res, next) => (req.url.includes('?') ? validate(req, res, next) : next());
  const valid = new Set<string>();
  return (req, res, next) => {
    if (req.url.includes('?')) return validate(req, res, next);
    const path = req.path;
    if (valid.has(path)) return next();
    validate(req, res, (err?: unknown) => {
      if (err === undefined || err === null) {
        if (valid.size >= VALID_PATHS) valid.clear();
        valid.add(path);
      }
      next(err);
    });
  };
}

/** Runs handlers in turn, as express runs a route's: a throw or a rejected promise goes to `next`. */
function compose(handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let i = 0;
    const step = (err?: unknown): void => {
      if (err !== undefined && err !== null) return next(err);
      const h = handlers[i++];
      if (!h) return next();
      try {
        const result: unknown = h(req, res, step);
        if (result instanceof Promise) result.catch(next);
      } catch (e) {
        next(e);
      }
    };
    step();
  };
}

/**
 * Runs the steps in order; only a step that returns a promise is waited for (see Step.run).
 * A guarded route's outcome is counted as the pipeline's decision: `ok`, or the code it refused with.
 */
function guard(steps: ReturnType<typeof pipelineFor>): RequestHandler {
  if (steps.length === 0) return (req, _res, next) => ((req.tessera = {}), next());
  return (req: Request, res: Response, next: NextFunction) => {
    req.tessera = {};
    let i = 0;
    const refuse = (err: unknown): void => {
      if (err instanceof ApiError && isAuthResult(err.code)) decided(req, err.code);
      next(err);
    };
    const resume = (): void => {
      try {
        while (i < steps.length) {
          const pending = steps[i++]!.run(req, res);
          if (pending) return void pending.then(resume, refuse);
        }
      } catch (err) {
        return refuse(err);
      }
      decided(req, 'ok');
      next();
    };
    resume();
  };
}

const AUTH_RESULT_CODES: ReadonlySet<string> = new Set(AUTH_RESULTS);
const isAuthResult = (code: string): code is AuthResult => AUTH_RESULT_CODES.has(code);
const decided = (req: Request, result: AuthResult): void => count(METRICS.authDecisions, { source: req.tessera.tokenSource ?? 'none', result });

type Send = (res: Response, status: number, body: unknown) => void;

/** Through res.json, which the response validator hooks (outside production). */
const viaExpress: Send = (res, status, body) => {
  releaseHeaders(res);
  res.status(status).json(body);
};

/**
 * What res.status().json() writes for a handler's reply, without the steps a JSON answer
 * here never needs: no ETag (turned off app-wide), so no freshness check; no JSONP, no
 * replacer or spacing settings; HEAD never reaches a spec operation (405). Used when
 * responses are not validated (production); a handler's body is always JSON.
 */
const sendJson: Send = (res, status, body) => {
  const text = JSON.stringify(body);
  writeHeld(res, status, ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', Buffer.byteLength(text)], text);
};

/**
 * What a handler is given. A class, so that the lazy `query` and `res` are getters on its
 * prototype rather than getters and closures made for every request (an object literal's would be).
 */
class Context {
  readonly params: Request['params'];
  readonly body: unknown;

  constructor(
    readonly req: Request,
    private readonly response: Response,
    readonly auth: unknown,
    readonly app: unknown,
    readonly caller: unknown,
  ) {
    this.params = req.params;
    this.body = req.body;
  }

  // A handler that writes the response itself (a stream) gets it with the held headers set on it.
  get res(): Response {
    releaseHeaders(this.response);
    return this.response;
  }

  // express parses the query string anew on every read of req.query; most handlers never read it.
  get query() {
    return this.req.query;
  }
}

function handle(route: Route<OperationId>, send: Send): RequestHandler {
  const reply = (res: Response, r: Awaited<ReturnType<Route<OperationId>['handler']>>): void => {
    if (!r) return;
    if (r.headers || r.body === undefined) releaseHeaders(res);
    if (r.headers) res.set(r.headers);
    if (r.body === undefined) res.status(r.status as number).end();
    else send(res, r.status as number, r.body);
  };
  return (req, res) => {
    const { auth, app, caller } = req.tessera;
    if (route.guard === 'app' && route.modes && !route.modes.includes(app!.mode)) {
      throw new ApiError(400, 'app_mode_mismatch', `This route is for ${route.modes.join(' or ')} apps; this app is a ${app!.mode} app.`);
    }
    // A throw here, or a rejection, reaches next through compose.
    return route.handler(new Context(req, res, auth, app, caller) as never).then((r) => reply(res, r));
  };
}
