import express, { type RequestHandler, type Router } from 'express';
import { noFraming } from '../http/security-headers.ts';
import type { Services } from '../services.ts';
import { deviceApproval } from './device-approval.ts';
import { deviceAuthorization } from './device-authorization.ts';
import { deviceLookup } from './device-lookup.ts';
import { approvalContext } from './approval-context.ts';
import { oauthErrorHandler } from './errors.ts';
import { externalApproval } from './external-approval.ts';
import { metadata } from './metadata.ts';
import { revocation } from './revocation.ts';
import { ssoInitiate } from './sso-initiate.ts';
import { token } from './token.ts';

/** The hand-written OAuth endpoints (RFC 8414, 8628, 7009): not in openapi.yaml. */
export function oauthRouter(s: Services): Router {
  const router = express.Router();
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
  router.get('/.well-known/oauth-authorization-server', metadata(s));
  const oauth = express.Router();
  oauth.use(noFraming);
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
  }
  oauth.use(oauthErrorHandler(s.log));
  router.use('/openapi/v1/oauth', oauth);
  return router;
}
