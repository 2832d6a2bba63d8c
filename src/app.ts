import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { appReadRoutes } from './apps/app-routes.ts';
import { runRoutes } from './apps/run-routes.ts';
import { consoleRouter } from './console/router.ts';
import { cors } from './http/cors.ts';
import { pageErrorsFor } from './console/page-errors.ts';
import { pageHeaders } from './console/pages.ts';
import { apiErrorHandler, BODY_LIMIT } from './http/error-mapper.ts';
import { mountOperations } from './http/mount.ts';
import type { RouteTable } from './http/operations.ts';
import { noRoute } from './http/request-problem.ts';
import { routeManifestFor, type RouteManifest } from './http/route-manifest.ts';
import { setBaseHeaders } from './http/security-headers.ts';
import { pathOf } from './http/target.ts';
import { frontDispatcher, runFirst } from './http/front-dispatcher.ts';
import { loadSpec, parseSpec } from './http/spec.ts';
import { identityRoutes } from './identity/identity-routes.ts';
import { sessionRoutes } from './identity/session-routes.ts';
import { mountOAuth, OAUTH_BASE } from './oauth/router.ts';
import { createServices, type Deps, type Services } from './services.ts';
import { mountDocs } from './server/docs.ts';
import { healthRoutes } from './system/health.ts';

const API_BASE = '/openapi/v1';

export interface TesseraApp {
  /** The server's request listener: API URLs to the API surface, the rest to `express` (src/http/front-dispatcher.ts). */
  handler: RequestListener;
  /** The express app, which serves every request (the API in every URL form too) when entered directly. */
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
  // The request id, the base security headers and the access log: first on every request, on
  // the API way in front of the app (src/http/front-dispatcher.ts) and as the app's first middleware.
  const api = apiSurface(s);
  const before = s.log.isLevelEnabled('info') ? [setBaseHeaders, logAccess(s)] : [setBaseHeaders];
  app.use(runFirst(before));

  // Surfaces, each with its own error shape: RFC errors under /openapi/v1/oauth (and the
  // metadata document), API errors for the rest of /openapi/v1 and /console/api, HTML for pages.
  // Hand-written RFC endpoints and first-party pages are not in openapi.yaml.
  mountOAuth(app, s);
  app.use(API_BASE, api);
  app.use(consoleRouter(s));
  const docs = routes.router('page', { base: '', owns: 'routes', head: true, front: [pageHeaders] });
  mountDocs(docs);
  app.use(docs);
  // Whatever no surface claims is a page that does not exist.
  const pageErrors = pageErrorsFor(s);
  app.use(pageErrors.notFound, pageErrors.handler);

  return {
    handler: frontDispatcher({ app, before, api: { base: API_BASE, elsewhere: [OAUTH_BASE], surface: api } }),
    express: app,
    services: s,
    routes,
    async close() {
      for (const hook of [...s.onClose].reverse()) await hook().catch(() => undefined);
    },
  };
}

/**
 * The spec's operations under /openapi/v1, from one table and validated against openapi.yaml,
 * served by one function (CORS, the front check, the body parser, the operation, the API's
 * error mapper) rather than a nested express Router: the router's per-request setup and
 * layers cost on every call (docs/performance.md).
 */
function apiSurface(s: Services): express.RequestHandler {
  // CORS for /openapi/v1 runs first here and in OAuth's router, so its headers are on every answer.
  const api = routeManifestFor(s).surface('api', { base: API_BASE, front: [cors(s.config.corsAllowOrigins)] });
  const { text, doc } = loadSpec();
  api.route('get', '/openapi.yaml', (_req, res) => void res.type('application/yaml').send(text));
  api.route('get', '/openapi.json', (_req, res) => void res.json(doc));

  const table: RouteTable = {
    ...healthRoutes(s),
    ...identityRoutes(s),
    ...sessionRoutes(s),
    ...appReadRoutes(s),
    ...runRoutes(s),
  };
  const validators = OpenApiValidator.middleware({
    // Its own copy (the validator dereferences it in place), one-byte like the other (parseSpec).
    apiSpec: parseSpec(text) as never,
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
  return api.serve({ body: express.json({ limit: BODY_LIMIT }), notFound: noRoute, errors: apiErrorHandler(s.log) });
}

function logAccess(s: Services): (req: express.Request, res: express.Response) => void {
  return (req, res) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      // The path only: query strings (and a fragment, when a client sends one) can carry user codes, and headers carry tokens.
      s.log.info({ request_id: req.id, method: req.method, path: pathOf(req.originalUrl), status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
  };
}
