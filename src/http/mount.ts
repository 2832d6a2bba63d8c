import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { pipelineFor, type PipelineDeps } from '../auth/pipeline.ts';
import { ApiError } from '../errors.ts';
import type { OperationId, Route, RouteTable } from './operations.ts';
import { specOperations } from './spec.ts';

/**
 * Mounts every spec operation from one table. Each route gets its guard from the
 * table and runs it before request validation, so an unauthenticated caller
 * learns nothing about the request shape. Throws at start when the table and
 * the spec disagree, or when a non-public operation would be mounted unguarded.
 */
export function mountOperations(
  router: Router,
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
    // A GET without path parameters or a query string has nothing to validate; when responses
    // are not validated either (production), skipping the validator changes no outcome.
    const nothingToCheck = !opts.validateResponses && op.method === 'get' && !op.path.includes('{');
    const validation: RequestHandler = nothingToCheck ? (req, res, next) => (req.url.includes('?') ? validate(req, res, next) : next()) : validate;
    router[op.method](op.expressPath, guard(steps), validation, handle(route));
  }
  for (const id of Object.keys(table)) if (!seen.has(id)) throw new Error(`route ${id} is not in openapi.yaml`);
}

function compose(handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let i = 0;
    const step = (err?: unknown): void => {
      if (err !== undefined && err !== null) return next(err);
      const h = handlers[i++];
      if (!h) return next();
      try {
        void h(req, res, step);
      } catch (e) {
        next(e);
      }
    };
    step();
  };
}

/** Runs the steps in order; only a step that returns a promise is waited for (see Step.run). */
function guard(steps: ReturnType<typeof pipelineFor>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    req.tessera = {};
    let i = 0;
    const resume = (): void => {
      try {
        while (i < steps.length) {
          const pending = steps[i++]!.run(req, res);
          if (pending) return void pending.then(resume, next);
        }
      } catch (err) {
        return next(err);
      }
      next();
    };
    resume();
  };
}

function handle(route: Route<OperationId>): RequestHandler {
  return async (req, res, next) => {
    try {
      const { auth, app, caller } = req.tessera;
      if (route.guard === 'app' && route.modes && !route.modes.includes(app!.mode)) {
        throw new ApiError(400, 'app_mode_mismatch', `This route is for ${route.modes.join(' or ')} apps; this app is a ${app!.mode} app.`);
      }
      const ctx = { params: req.params, query: req.query, body: req.body, req, res, auth, app, caller } as never;
      const reply = await route.handler(ctx);
      if (!reply) return;
      if (reply.headers) res.set(reply.headers);
      if (reply.body === undefined) res.status(reply.status as number).end();
      else res.status(reply.status as number).json(reply.body);
    } catch (err) {
      next(err);
    }
  };
}
