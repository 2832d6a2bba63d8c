import express, { type Express, type RequestHandler } from 'express';
import { noRoute } from '../http/request-problem.ts';
import { routeManifestFor } from '../http/route-manifest.ts';
import { cors } from '../http/cors.ts';
import { noFraming } from '../http/security-headers.ts';
import type { Services } from '../services.ts';
import { deviceApproval } from './device-approval.ts';
import { deviceAuthorization } from './device-authorization.ts';
import { deviceLookup } from './device-lookup.ts';
import { approvalContext } from './approval-context.ts';
import { BACKCHANNEL_LOGOUT_PATH, backchannelLogout } from './backchannel-logout.ts';
import { oauthErrorHandler } from './errors.ts';
import { externalApproval } from './external-approval.ts';
import { metadata } from './metadata.ts';
import { revocation } from './revocation.ts';
import { ssoInitiate } from './sso-initiate.ts';
import { token } from './token.ts';

export const OAUTH_BASE = '/openapi/v1/oauth';

/** Endpoints a cookie authenticates (the console session, the approval grant): they answer no cross-origin request. */
const COOKIE_AUTHENTICATED = ['/device/approve', '/device/deny', '/device/approval-context', '/device/approve-external', '/device/deny-external'];

/**
 * The hand-written OAuth endpoints (RFC 8414, 8628, 6749 §6, 7009, OpenID Connect
 * Back-Channel Logout): not in openapi.yaml. Every
 * answer under /openapi/v1/oauth, including 404, 405 and unreadable bodies, is an
 * RFC 6749 §5.2 error. Mounted at their own two prefixes, never at `/`: every request
 * would otherwise enter these routers and fall through them, and leaving a router at
 * its end costs a setImmediate hop (router 2.x) on every API call (docs/performance.md).
 */
export function mountOAuth(app: Express, s: Services): void {
  const manifest = routeManifestFor(s);
  // Raw bodies: params.ts parses them itself to refuse repeated parameters.
  const raw = express.raw({ type: () => true, limit: '16kb' });
  const wrap =
    (h: RequestHandler): RequestHandler =>
    async (req, res, next) => {
      try {
        await h(req, res, next);
      } catch (err) {
        next(err);
      }
    };

  const wellKnown = manifest.router('oauth', { base: '/.well-known', owns: 'routes', head: true });
  wellKnown.get('/oauth-authorization-server', metadata(s));
  wellKnown.use(oauthErrorHandler(s.log));

  // CORS as on the bearer routes (none for the cookie endpoints), then anti-framing, so that even the manifest's 400/405 answers carry both.
  const allowOrigins = s.config.corsAllowOrigins;
  const oauth = manifest.router('oauth', {
    base: OAUTH_BASE,
    owns: 'prefix',
    head: true,
    front: [cors(allowOrigins, { cookieAuthenticated: COOKIE_AUTHENTICATED }), noFraming],
  });
  oauth.post('/device/code', raw, wrap(deviceAuthorization(s)));
  oauth.post('/token', raw, wrap(token(s)));
  oauth.post('/revoke', raw, wrap(revocation(s)));
  oauth.get('/device/lookup', wrap(deviceLookup(s)));
  oauth.post('/device/approve', raw, wrap(deviceApproval(s, 'approve')));
  oauth.post('/device/deny', raw, wrap(deviceApproval(s, 'deny')));
  // The external-SSO branch (docs/enterprise.md) exists only in the enterprise edition with an OpenID provider.
  if (s.sso) {
    oauth.get('/device/sso-initiate', wrap(ssoInitiate(s)));
    oauth.get('/device/approval-context', wrap(approvalContext(s)));
    oauth.post('/device/approve-external', raw, wrap(externalApproval(s, 'approve')));
    oauth.post('/device/deny-external', raw, wrap(externalApproval(s, 'deny')));
    oauth.post(BACKCHANNEL_LOGOUT_PATH, raw, wrap(backchannelLogout(s)));
  }
  oauth.use((_req, _res, next) => next(noRoute()));
  oauth.use(oauthErrorHandler(s.log));

  app.use('/.well-known', wellKnown);
  app.use(OAUTH_BASE, oauth);
}
