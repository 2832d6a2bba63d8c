import { ApiError } from '../../errors.ts';
import { DPOP_ALGORITHM_NAMES, PROOF_WINDOW_SECONDS } from './policy.ts';

/**
 * Why a DPoP request was refused, and what the client is told (plain ASCII: it also goes
 * into a WWW-Authenticate quoted string). The API answers each with `401 invalid_token`,
 * the token endpoint with `400 invalid_dpop_proof` (or `invalid_grant` for a key mismatch).
 */
const DESCRIPTIONS = {
  missing: 'The DPoP scheme needs a DPoP header with a proof.',
  malformed: 'The DPoP proof is not one compact JWT.',
  typ: 'The DPoP proof is not typed dpop+jwt.',
  alg: `The DPoP proof is not signed with a supported algorithm (${DPOP_ALGORITHM_NAMES.join(', ')}).`,
  jwk: 'The DPoP proof jwk is not a public key of the type its alg needs.',
  private_key: 'The DPoP proof jwk contains a private key.',
  signature: 'The DPoP proof signature does not verify with its jwk.',
  claims: 'The DPoP proof lacks jti, htm, htu or iat, or one of them is malformed.',
  htm: 'The DPoP proof htm is not the method of this request.',
  htu: 'The DPoP proof htu is not the URL of this request.',
  iat: `The DPoP proof iat is more than ${PROOF_WINDOW_SECONDS} s away from the server clock; check this machine's clock.`,
  ath: 'The DPoP proof ath is not the SHA-256 of the access token.',
  replayed: 'This DPoP proof was used before; sign a new one for every request.',
  wrong_key: 'The token is bound to another key than the one of this DPoP proof.',
  bound_as_bearer: 'This access token is bound to a key: send it as Authorization: DPoP, with a proof.',
} as const;

export type DpopRefusal = keyof typeof DESCRIPTIONS;

export class DpopRefused extends Error {
  constructor(
    readonly reason: DpopRefusal,
    /** For `htu`: the URL the proof had to name, which tells a client behind a proxy what PUBLIC_URL is. */
    readonly expected?: string,
  ) {
    super(DESCRIPTIONS[reason]);
  }

  /** The message for the client: the description, and for `htu` the URL expected. */
  get detail(): string {
    return this.expected ? `${this.message} Expected ${this.expected}.` : this.message;
  }
}

const ALGS = `algs="${DPOP_ALGORITHM_NAMES.join(' ')}"`;

/** A DPoP challenge (RFC 9449 §7.1), with the realm and the algorithms a proof may use. */
export function dpopChallenge(error?: { code: string; description?: string; scope?: string }): string {
  const parts = ['DPoP realm="tessera"'];
  if (error) parts.push(`error="${error.code}"`);
  if (error?.description) parts.push(`error_description="${error.description}"`);
  if (error?.scope) parts.push(`scope="${error.scope}"`);
  parts.push(ALGS);
  return parts.join(', ');
}

/** `401 invalid_token` with a DPoP challenge naming why (RFC 9449 §7.1). */
export function dpopUnauthorized(refused: DpopRefused, headers: Record<string, string> = {}): ApiError {
  return new ApiError(401, 'invalid_token', refused.detail, {
    headers: { ...headers, 'WWW-Authenticate': dpopChallenge({ code: 'invalid_token', description: refused.message }) },
  });
}
