import { OAuthError } from './errors.ts';

/** The approval-grant cookie is missing, forged, expired or already used. */
export class NoSession extends OAuthError {
  override status = 401;
  constructor() {
    super('no_session', 'No valid single sign-on approval for this browser; sign in again from the device page.');
  }
}

/** The OpenID provider could not be reached (RFC 6749 §4.1.2.1 `temporarily_unavailable`). */
export class SsoUnavailable extends OAuthError {
  override status = 503;
  constructor() {
    super('temporarily_unavailable', 'Single sign-on is temporarily unavailable; try again shortly.');
    this.headers = { 'Retry-After': '30' };
  }
}
