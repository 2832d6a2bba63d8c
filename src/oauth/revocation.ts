// RFC 7009 §2: token revocation. Unknown or already-dead tokens also answer 200 (§2.2).
import type { RequestHandler } from 'express';
import { checkCompactShape } from '../auth/jwt/compact-shape.ts';
import { originOf } from '../observability/audit.ts';
import type { Services } from '../services.ts';
import { refuseClientAuthentication } from './client.ts';
import { InvalidClient, InvalidRequest, UnsupportedTokenType } from './errors.ts';
import { readParams } from './params.ts';

export function revocation(s: Services): RequestHandler {
  return async (req, res) => {
    refuseClientAuthentication(req);
    const params = readParams(req, false);
    if (!params.token) throw new InvalidRequest('token is required.');
    if (params.client_id !== undefined && !s.config.knownClientIds.includes(params.client_id)) throw new InvalidClient();
    // §2.2.1: a JWT (three base64url segments) was minted by an IdP or a gateway, not here, and
    // nothing here can revoke it; it stops at its exp. Not verified: the answer is the same either way.
    if (checkCompactShape(params.token) === null) {
      throw new UnsupportedTokenType('JWTs are issued by your identity provider or gateway and cannot be revoked here; they stop working at their exp.');
    }
    // token_type_hint is only a hint (§2.1): the hash is looked up as an access token, a refresh
    // token and an API key alike. Either token of a device session ends the whole session.
    await s.tokens.revokeByToken(params.token, 'rfc7009', originOf(req));
    res.set('Cache-Control', 'no-store');
    res.status(200).end();
  };
}
