// RFC 6749 §6 (Refreshing an Access Token), rotating on every use with reuse detection (RFC 9700 §4.14.2).
import type { InvalidatingCache } from '../../auth/invalidating-cache.ts';
import { RefreshTokens, type RefreshRefusal } from '../../auth/refresh-tokens.ts';
import { isRefreshToken } from '../../auth/token-kinds.ts';
import { perServices, type Services } from '../../services.ts';
import { InvalidGrant, InvalidRequest, InvalidScope } from '../errors.ts';
import { tokenResponse, type TokenRequest, type TokenResponse } from './token-response.ts';

export const REFRESH_TOKEN_GRANT = 'refresh_token';

const AGAIN = 'Log in again.';
const REFUSED: Record<Exclude<RefreshRefusal, 'invalid_scope'>, string> = {
  unknown: `The refresh token is invalid or was revoked. ${AGAIN}`,
  wrong_client: 'The refresh token was issued to another client.',
  // RFC 9449 §5: invalid_grant, as node-oidc-provider answers it; the proof itself may be valid.
  dpop_key: 'The refresh token is bound to a DPoP key: refresh with a proof signed by that key.',
  expired: `The refresh token has expired; the session has ended. ${AGAIN}`,
  disabled: 'This account is disabled.',
  community_edition: 'This session was approved through single sign-on, which needs the enterprise edition; this server runs the community edition.',
  in_grace: 'The refresh token was already used.',
  reused: `The refresh token was already used, so it may have been stolen: the whole session has been revoked. ${AGAIN}`,
};

const refreshTokensFor = perServices((s) => new RefreshTokens(s.config, s.db, s.tokens, s.authenticator.cache as InvalidatingCache<unknown>, s.audit));

/** The grant, step by step: the token's form (no lookup for a string that is not one of ours) → the scope asked for → rotation. */
export async function refreshTokenGrant(s: Services, req: TokenRequest): Promise<TokenResponse> {
  const refreshToken = req.params.refresh_token;
  if (!refreshToken) throw new InvalidRequest('refresh_token is required.');
  if (!isRefreshToken(refreshToken)) throw new InvalidGrant(REFUSED.unknown);
  const scope = req.params.scope === undefined ? null : req.params.scope.split(' ').filter(Boolean);
  const { clientId, requestId, clientAddress, dpopJkt } = req;
  const outcome = await refreshTokensFor(s).refresh({ refreshToken, clientId, scope, dpopJkt, requestId, clientAddress });
  if (outcome.ok) return tokenResponse(outcome.minted, outcome.scope);
  // §6: a scope beyond what the session was granted.
  if (outcome.why === 'invalid_scope') throw new InvalidScope('The requested scope exceeds the scope of this session.');
  throw new InvalidGrant(REFUSED[outcome.why]);
}
