import { ApiError } from '../errors.ts';

const REALM = 'Bearer realm="tessera"';

const MESSAGES = {
  missing_token: 'A bearer token is required.',
  invalid_token: 'The access token is invalid.',
  token_expired: 'The access token has expired.',
};

/** 401 with the RFC 6750 §3 challenge: a bare realm without a token, `error="invalid_token"` with one. */
export function unauthorized(code: keyof typeof MESSAGES, headers: Record<string, string> = {}): ApiError {
  const challenge = code === 'missing_token' ? REALM : `${REALM}, error="invalid_token"`;
  return new ApiError(401, code, MESSAGES[code], { headers: { ...headers, 'WWW-Authenticate': challenge } });
}
