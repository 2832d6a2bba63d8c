import type { RequestHandler } from 'express';
import { putHeader, releaseHeaders } from './held-headers.ts';
import { pathMatcher } from './route-manifest.ts';

/**
 * CORS for the bearer routes of /openapi/v1/* (OPENAPI_CORS_ALLOW_ORIGINS): an explicit
 * allow-list, no Access-Control-Allow-Origin at all for an origin outside it, and never
 * credentials: a bearer token needs none, and with them an allow-listed origin running
 * hostile script could read what a cookie unlocks.
 *
 * `cookieAuthenticated`: paths (below where the middleware is mounted, matched as express
 * matches routes: any case, optional trailing slash) that a cookie authenticates. They answer
 * no cross-origin request at all: no Access-Control-Allow-* header, on a preflight or a request.
 */
export function cors(allowOrigins: readonly string[], opts: { cookieAuthenticated?: readonly string[] } = {}): RequestHandler {
  const allowed = new Set(allowOrigins);
  const cookieAuthenticated = pathMatcher(opts.cookieAuthenticated ?? []);
  return (req, res, next) => {
    if (cookieAuthenticated(req.path)) return next();
    const origin = req.headers.origin;
    // Every answer depends on Origin, so caches must key on it; on the usual path nothing has set Vary yet.
    if (res.getHeader('Vary') === undefined) putHeader(res, 'Vary', 'Origin');
    else res.vary('Origin');
    if (origin && allowed.has(origin)) {
      putHeader(res, 'Access-Control-Allow-Origin', origin);
      putHeader(res, 'Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, WWW-Authenticate');
      if (req.method === 'OPTIONS') {
        putHeader(res, 'Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE, OPTIONS');
        putHeader(res, 'Access-Control-Allow-Headers', 'Authorization, Content-Type, DPoP');
        putHeader(res, 'Access-Control-Max-Age', '600');
      }
    }
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      releaseHeaders(res);
      res.status(204).end();
      return;
    }
    next();
  };
}
