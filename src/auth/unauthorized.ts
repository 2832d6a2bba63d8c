import { ApiError } from '../errors.ts';
import { dpopChallenge } from './dpop/refusals.ts';

const REALM = 'Bearer realm="tessera"';

const MESSAGES = {
  missing_token: 'A bearer token is required.',
  invalid_token: 'The access token is invalid.',
  token_expired: 'The access token has expired.',
};

/**
 * 401 with a challenge in the scheme the token came in (RFC 6750 §3, RFC 9449 §7.1): a bare
 * realm without a token, `error="invalid_token"` with one.
 */
export function unauthorized(code: keyof typeof MESSAGES, headers: Record<string, string> = {}, scheme: 'Bearer' | 'DPoP' = 'Bearer'): ApiError {
  const error = code === 'missing_token' ? undefined : { code: 'invalid_token' };
  const challenge = scheme === 'DPoP' ? dpopChallenge(error) : error ? `${REALM}, error="invalid_token"` : REALM;
  return new ApiError(401, code, MESSAGES[code], { headers: { ...headers, 'WWW-Authenticate': challenge } });
}
