import express, { type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { parse } from 'yaml';
import { appReadRoutes } from './apps/app-routes.ts';
import { runRoutes } from './apps/run-routes.ts';
import { consoleRouter } from './console/router.ts';
import { cors } from './http/cors.ts';
import { pageErrorsFor } from './console/page-errors.ts';
import { apiErrorHandler, BODY_LIMIT } from './http/error-mapper.ts';
import { mountOperations } from './http/mount.ts';
import type { RouteTable } from './http/operations.ts';
import { noRoute } from './http/request-problem.ts';
import { routeManifestFor, type RouteManifest } from './http/route-manifest.ts';
import { baseHeaders } from './http/security-headers.ts';
import { loadSpec } from './http/spec.ts';
import { identityRoutes } from './identity/identity-routes.ts';
import { sessionRoutes } from './identity/session-routes.ts';
import { mountOAuth } from './oauth/router.ts';
import { createServices, type Deps, type Services } from './services.ts';
import { mountDocs } from './server/docs.ts';
import { healthRoutes } from './system/health.ts';

export interface TesseraApp {
  express: Express;
  services: Services;
  /** Every declared route (spec operations, OAuth, console API, pages), for tests that walk them all. */
  routes: RouteManifest;
  close(): Promise<void>;
}


/** Builds the whole HTTP app without listening (tests run it in-process on port 0). */
export async function createApp(deps: Deps): Promise<TesseraApp> {
  const s = await createServices(deps);
  const routes = routeManifestFor(s);
  const app = express();
  app.disable('x-powered-by');
  // Bearer responses are per-caller and never revalidated; hashing every body for an ETag is waste.
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  app.set('query parser', 'extended');
  // The request id and the base security headers (one middleware).
  app.use(baseHeaders);
  if (s.log.isLevelEnabled('info')) app.use(accessLog(s));

  // Surfaces, each with its own error shape: RFC errors under /openapi/v1/oauth (and the
  // metadata document), API errors for the rest of /openapi/v1 and /console/api, HTML for pages.
  // Hand-written RFC endpoints and first-party pages are not in openapi.yaml.
  mountOAuth(app, s);
  app.use('/openapi/v1', apiRouter(s));
  app.use(consoleRouter(s));
  const docs = routes.router('page', { base: '', owns: 'routes', head: true });
  mountDocs(docs);
  app.use(docs);
  // Whatever no surface claims is a page that does not exist.
  const pageErrors = pageErrorsFor(s);
  app.use(pageErrors.notFound, pageErrors.handler);

  return {
    express: app,
    services: s,
    routes,
    async close() {
      for (const hook of [...s.onClose].reverse()) await hook().catch(() => undefined);
    },
  };
}

/** The spec's operations under /openapi/v1, mounted from one table and validated against openapi.yaml. */
function apiRouter(s: Services): express.Router {
  // CORS for /openapi/v1 runs first in each of its two routers (this one and OAuth's), not as a
  // mount of its own: every mount the router enters costs on every request (docs/performance.md).
  const api = routeManifestFor(s).router('api', { base: '/openapi/v1', owns: 'prefix', head: false, front: [cors(s.config.corsAllowOrigins)] });
  const { text, doc } = loadSpec();
  api.get('/openapi.yaml', (_req, res) => void res.type('application/yaml').send(text));
  api.get('/openapi.json', (_req, res) => void res.json(doc));

  const table: RouteTable = {
    ...healthRoutes(s),
    ...identityRoutes(s),
    ...sessionRoutes(s),
    ...appReadRoutes(s),
    ...runRoutes(s),
  };
  const json = express.json({ limit: BODY_LIMIT });
  api.use((req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? next() : json(req, res, next)));
  const validators = OpenApiValidator.middleware({
    apiSpec: parse(text),
    validateApiSpec: true,
    validateRequests: { allowUnknownQueryParameters: false, coercionStrategy: {} } as never,
    validateResponses: s.config.env !== 'production',
    validateSecurity: false,
    ignoreUndocumented: false,
    validateFormats: true,
    $refParser: { mode: 'dereference' },
  });
  mountOperations(api, table, s, validators, { validateResponses: s.config.env !== 'production' });
  // Unknown routes under the API prefix get the API's 404, not an HTML page.
  api.use((_req, _res, next) => next(noRoute()));
  api.use(apiErrorHandler(s.log));
  return api;
}

function accessLog(s: Services): express.RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      // The path only: query strings can carry user codes, and headers carry tokens.
      s.log.info({ request_id: req.id, method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}
