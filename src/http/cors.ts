import type { RequestHandler } from 'express';

/**
 * CORS for /openapi/v1/* (OPENAPI_CORS_ALLOW_ORIGINS): an explicit allow-list, credentials allowed,
 * and no Access-Control-Allow-Origin at all for an origin outside it.
 */
export function cors(allowOrigins: readonly string[]): RequestHandler {
  const allowed = new Set(allowOrigins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    // Every answer depends on Origin, so caches must key on it; on the usual path nothing has set Vary yet.
    if (res.getHeader('Vary') === undefined) res.setHeader('Vary', 'Origin');
    else res.vary('Origin');
    if (origin && allowed.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader(
        'Access-Control-Expose-Headers',
        'X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, WWW-Authenticate',
      );
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-CSRF-Token');
        res.setHeader('Access-Control-Max-Age', '600');
      }
    }
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      res.status(204).end();
      return;
    }
    next();
  };
}
