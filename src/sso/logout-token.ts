// OpenID Connect Back-Channel Logout 1.0 §2.4 (Logout Token) and §2.6 (Logout Token Validation).
import { createHash } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ASYMMETRIC_ALGORITHMS, isAsymmetricAlgorithm } from '../auth/jwt/algorithms.ts';
import { checkCompactShape } from '../auth/jwt/compact-shape.ts';
import { createKeySource, JwksUnavailable } from '../auth/jwt/key-source.ts';
import type { Store } from '../storage/store/index.ts';
import type { OidcRelyingParty } from './oidc-rp.ts';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** How old a logout token may be (`iat`), and the clock skew allowed around it and `exp`. */
const MAX_AGE_SECONDS = 300;
const SKEW_SECONDS = 30;
/** `typ` values a logout token may carry (§2.4 recommends `logout+jwt`; older IdPs send `JWT` or none). */
const TYPES = new Set(['logout+jwt', 'application/logout+jwt', 'jwt']);

/** Who to log out: the IdP's subject, or one of its sessions, or both. */
export interface LogoutRequest {
  issuer: string;
  sub: string | null;
  sid: string | null;
  jti: string;
}

/** `invalid` → 400, nothing revoked; `unavailable` → 503 (the IdP's keys could not be read: the token may be fine). `reason` is fit for the IdP to read. */
export type LogoutTokenCheck = { ok: true; request: LogoutRequest } | { ok: false; outcome: 'invalid' | 'unavailable'; reason: string };

const invalid = (reason: string): LogoutTokenCheck => ({ ok: false, outcome: 'invalid', reason });

/**
 * Verifies a logout token with jose against the SSO issuer's own keys (the JWKS its discovery
 * document names), as §2.6 says: signature (asymmetric algorithms only), `iss`, `aud` (our
 * client id), `iat` (at most five minutes old), `exp` when present, the back-channel `events`
 * member, `sub` or `sid`, no `nonce`; and `jti` once only, across replicas, for as long as
 * the token could be accepted.
 */
export class LogoutTokenVerifier {
  private keys: { uri: string; get: JWTVerifyGetKey } | null = null;

  constructor(
    private readonly rp: OidcRelyingParty,
    private readonly store: Store,
  ) {}

  async verify(token: string): Promise<LogoutTokenCheck> {
    if (checkCompactShape(token) !== null) return invalid('The logout token is not a signed JWT (JWS compact serialization).');
    const config = await this.rp.configuration();
    if (!config) return { ok: false, outcome: 'unavailable', reason: 'The identity provider cannot be reached to read its keys.' };
    const meta = config.serverMetadata();
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return invalid('The logout token header cannot be read.');
    }
    if (!isAsymmetricAlgorithm(header.alg)) return invalid('The logout token must be signed with an asymmetric algorithm.');
    if (header.typ !== undefined && !TYPES.has(header.typ.toLowerCase())) return invalid(`A token of type ${header.typ.slice(0, 40)} is not a logout token.`);
    const advertised = meta.id_token_signing_alg_values_supported?.filter(isAsymmetricAlgorithm);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySource(meta.jwks_uri), {
        issuer: meta.issuer,
        audience: this.rp.settings.clientId,
        algorithms: advertised?.length ? advertised : [...ASYMMETRIC_ALGORITHMS],
        requiredClaims: ['iat', 'jti'],
        maxTokenAge: MAX_AGE_SECONDS,
        clockTolerance: SKEW_SECONDS,
      }));
    } catch (err) {
      if (err instanceof JwksUnavailable) return { ok: false, outcome: 'unavailable', reason: "The identity provider's keys cannot be read right now." };
      return invalid(describe(err));
    }
    return this.checkClaims(payload);
  }

  /** §2.6 steps 4–7, after the signature and the registered claims. */
  private async checkClaims(p: JWTPayload): Promise<LogoutTokenCheck> {
    const events = p.events as Record<string, unknown> | undefined;
    const event = events && typeof events === 'object' && !Array.isArray(events) ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
    if (!event || typeof event !== 'object' || Array.isArray(event)) return invalid(`The logout token's events claim must hold a ${BACKCHANNEL_LOGOUT_EVENT} member whose value is an object.`);
    if ('nonce' in p) return invalid('A logout token must not contain a nonce.');
    const sub = typeof p.sub === 'string' && p.sub ? p.sub : null;
    const sid = typeof p.sid === 'string' && p.sid ? p.sid : null;
    if (!sub && !sid) return invalid('A logout token must contain sub or sid.');
    const jti = p.jti!;
    const key = `sso:logout-jti:{${createHash('sha256').update(`${p.iss}\n${jti}`).digest('hex')}}`;
    if (!(await this.store.setIfAbsent(key, '1', (MAX_AGE_SECONDS + 2 * SKEW_SECONDS) * 1000))) return invalid('This logout token (its jti) was already used.');
    return { ok: true, request: { issuer: p.iss!, sub, sid, jti } };
  }

  /** The IdP's JWKS, fetched and cached by jose (an unknown `kid` refetches at most every 30 s). */
  private keySource(uri: string | undefined): JWTVerifyGetKey {
    if (!uri) throw new JwksUnavailable('the identity provider names no jwks_uri', false);
    if (this.keys?.uri !== uri) this.keys = { uri, get: createKeySource({ jwks: null, jwksUri: uri }) };
    return this.keys.get;
  }
}

/** jose's errors say which check failed, in fixed words; the token itself is never repeated. */
function describe(err: unknown): string {
  if (err instanceof errors.JWTClaimValidationFailed) return `The logout token's ${err.claim} claim is not valid: ${err.reason}.`;
  if (err instanceof errors.JWTExpired) return 'The logout token has expired.';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'The logout token signature does not verify.';
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return "No key of the identity provider matches the logout token's kid.";
  if (err instanceof errors.JOSEAlgNotAllowed) return 'The logout token is signed with an algorithm the identity provider does not use.';
  return 'The logout token cannot be verified.';
}
