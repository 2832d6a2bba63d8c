// OpenID Connect Back-Channel Logout 1.0 §2.5 (Back-Channel Logout Request), §2.7 (Back-Channel
// Logout Actions) and §2.8 (Back-Channel Logout Response): the SSO IdP says a person signed out.
import type { RequestHandler } from 'express';
import type { InvalidatingCache } from '../auth/invalidating-cache.ts';
import { Offboarding } from '../offboarding/offboarding.ts';
import { perServices, type Services } from '../services.ts';
import { LogoutTokenVerifier } from '../sso/logout-token.ts';
import { InvalidRequest, TemporarilyUnavailable } from './errors.ts';
import { readParams } from './params.ts';

export const BACKCHANNEL_LOGOUT_PATH = '/sso/backchannel-logout';

export const offboardingFor = perServices(
  (s) => new Offboarding({ db: s.db, tokens: s.tokens, cache: s.authenticator.cache as InvalidatingCache<unknown>, store: s.store, log: s.log, audit: s.audit }),
);

/**
 * POST with a form `logout_token`. A token that does not verify is `400 invalid_request` with
 * the reason (for the IdP's operators) and nothing revoked; when the IdP's keys cannot be read
 * it is `503` (the token may be fine; the IdP may retry). A valid one ends every session it
 * names, on every replica, before the `200` (with or without any session to end).
 */
export function backchannelLogout(s: Services): RequestHandler {
  const verifier = new LogoutTokenVerifier(s.sso!.rp, s.store);
  const offboarding = offboardingFor(s);
  return async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const { logout_token: token } = readParams(req, false);
    if (!token) throw new InvalidRequest('logout_token is required.');
    const checked = await verifier.verify(token);
    if (!checked.ok) {
      s.log.warn({ request_id: req.id, reason: checked.reason }, 'sso: back-channel logout refused');
      throw checked.outcome === 'unavailable' ? new TemporarilyUnavailable() : new InvalidRequest(checked.reason);
    }
    await offboarding.logoutAtIdp(checked.request);
    res.status(200).end();
  };
}
