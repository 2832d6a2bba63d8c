import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { Liquid } from 'liquidjs';
import { asRequestProblem, isWellEncoded, malformedPath, noRoute } from '../http/request-problem.ts';
import { requestFailed } from '../http/request-tracing.ts';
import { perServices, type Services } from '../services.ts';
import { DatabaseUnavailableError } from '../storage/db.ts';
import { StoreUnavailableError } from '../storage/store/index.ts';
import { CSP } from './pages.ts';

const TEMPLATES = new URL('./templates/', import.meta.url).pathname;

const TITLES: Record<number, string> = {
  400: 'Bad request',
  404: 'Page not found',
  405: 'Not allowed',
  413: 'Request too large',
  415: 'Unsupported request',
};

const MESSAGES: Record<number, string> = {
  400: 'That address or request is not valid. Check the link and try again.',
  404: 'There is no page at this address.',
  405: 'This page cannot be used that way.',
};

export interface PageErrors {
  /** The last stop for a path no surface owns: 400 for a malformed path, else 404. */
  notFound: RequestHandler;
  /** The one error mapper for pages: an HTML page with the right status, whatever went wrong. */
  handler: ErrorRequestHandler;
}

export const pageErrorsFor = perServices((s: Services): PageErrors => {
  const liquid = new Liquid({ root: TEMPLATES, extname: '.liquid', outputEscape: 'escape', cache: true });
  const send = async (res: Response, status: number, title: string, message: string) => {
    res.set({ 'Content-Security-Policy': CSP, 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store' });
    res.status(status).type('html').send(await liquid.renderFile('error', { title, message }));
  };
  return {
    notFound: (req, _res, next) => next(isWellEncoded(req.path) ? noRoute() : malformedPath()),
    handler: (err, req, res, next) => {
      if (res.headersSent) {
        // The app's last error handler: express's own cuts the response off.
        requestFailed(req, err);
        return next(err);
      }
      const problem = asRequestProblem(err);
      if (problem) {
        s.log.debug({ request_id: req.id, problem: problem.kind }, problem.message);
        res.set(problem.headers);
        const message = MESSAGES[problem.status] ?? problem.message;
        return void send(res, problem.status, TITLES[problem.status] ?? 'Bad request', message).catch(next);
      }
      requestFailed(req, err);
      const outage = err instanceof StoreUnavailableError || err instanceof DatabaseUnavailableError;
      if (outage) s.log.warn({ err: (err as Error).message, request_id: req.id }, 'dependency unavailable on a console page');
      else s.log.error({ err, request_id: req.id }, 'error on a console page');
      const message = 'Tessera is having trouble right now. Please try again in a moment.';
      send(res, outage ? 503 : 500, 'Something went wrong', message).catch(next);
    },
  };
});
