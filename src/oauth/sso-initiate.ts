// OIDC Core §3.1.2.1 (authentication request) with PKCE (RFC 7636 §4) — the start of the
// external-SSO branch of the device flow (RFC 8628 §3.3, user interaction). Not an RFC endpoint.
import type { RequestHandler } from 'express';
import { deviceFlowFor } from '../device-flow/device-flow-service.ts';
import { METRICS } from '../observability/metric-catalog.ts';
import { count } from '../observability/metrics.ts';
import type { Services } from '../services.ts';
import { OidcRelyingParty } from '../sso/oidc-rp.ts';
import { InvalidRequest, NotFound, TooManyRequests } from './errors.ts';
import { SsoUnavailable } from './sso-errors.ts';

export function ssoInitiate(s: Services): RequestHandler {
  const flow = deviceFlowFor(s);
  const sso = s.sso!;
  return async (req, res) => {
    const code = req.query.user_code;
    if (typeof code !== 'string' || code.length === 0 || code.length > 20) throw new InvalidRequest('user_code is required.');
    // Like a lookup: every start counts toward the per-IP window, so it cannot be used to guess codes.
    const limit = await flow.hitLookupLimit(req.ip);
    if (!limit.allowed) throw new TooManyRequests(limit.retryAfterSeconds);
    const found = await flow.findPending(code);
    if (!found) throw new NotFound();
    const config = await sso.rp.configuration();
    if (!config) throw new SsoUnavailable();
    const checks = OidcRelyingParty.newChecks();
    const { state, binding } = await sso.states.create(found.hash, checks);
    sso.setBinding(res, binding);
    count(METRICS.deviceFlowEvents, { branch: 'sso', event: 'started' });
    res.set('Cache-Control', 'no-store');
    res.redirect(302, (await sso.rp.authorizationUrl(config, checks, state)).href);
  };
}
