import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { isAsymmetricAlgorithm } from './algorithms.ts';
import { checkCompactShape } from './compact-shape.ts';
import { identityFromClaims, type IdentityProblem, type JwtIdentity } from './identity.ts';
import { createKeySource, JwksUnavailable, type JwksOptions } from './key-source.ts';
import type { TrustedIssuer } from './trusted-issuers.ts';

/** Leeway for `exp`, `nbf` and `iat` between the issuer's clock and ours. */
export const CLOCK_SKEW_SECONDS = 30;

export type JwtRejectReason =
  | 'too_large'
  | 'malformed'
  | 'unknown_issuer'
  | 'alg_not_allowed'
  | 'unknown_key'
  | 'unusable_key'
  | 'bad_signature'
  | 'wrong_audience'
  | 'missing_claim'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'lifetime_exceeded'
  | 'bad_claim'
  | IdentityProblem['reason'];

/**
 * `invalid` → 401 invalid_token. `unavailable` → 503 for this issuer's tokens only: its
 * keys could not be fetched, so the token is neither accepted nor called bad. `detail`
 * is for the log and never contains the token.
 */
export type JwtVerification =
  | { ok: true; identity: JwtIdentity }
  | { ok: false; outcome: 'invalid'; reason: JwtRejectReason; detail: string; issuer: string | null }
  | { ok: false; outcome: 'unavailable'; reason: 'jwks_unavailable'; detail: string; issuer: string; fetched: boolean };

export interface JwtVerifierOptions {
  /** The clock for `exp`/`nbf`/`iat` (ms since the epoch). */
  now?: () => number;
  jwks?: JwksOptions;
  /** Rejections are logged here (reason and issuer, never the token). */
  log?: Logger;
}

type Invalid = Extract<JwtVerification, { outcome: 'invalid' }>;

const invalid = (reason: JwtRejectReason, detail: string, issuer: string | null = null): Invalid => ({ ok: false, outcome: 'invalid', reason, detail, issuer });

/** An attacker-chosen string, quoted and cut short, fit for a log line. */
function quote(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/** jose's error classes carry fixed messages; the payload they also carry is not logged. */
function fromJoseError(err: unknown, issuer: string): Invalid {
  if (err instanceof errors.JWTExpired) {
    return err.claim === 'exp' ? invalid('expired', err.message, issuer) : invalid('lifetime_exceeded', err.message, issuer);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return invalid('missing_claim', err.message, issuer);
    if (err.claim === 'aud') return invalid('wrong_audience', err.message, issuer);
    if (err.claim === 'nbf') return invalid('not_yet_valid', err.message, issuer);
    if (err.claim === 'iat' && err.reason === 'check_failed') return invalid('issued_in_future', err.message, issuer);
    return invalid('bad_claim', err.message, issuer);
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return invalid('unknown_key', err.message, issuer);
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('bad_signature', err.message, issuer);
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid('alg_not_allowed', err.message, issuer);
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return invalid('malformed', err.message, issuer);
  }
  // A key jose could not use (an RSA key under 2048 bits, a bad inline key).
  return invalid('unusable_key', err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : 'key could not be used', issuer);
}

/**
 * Verifies compact JWS bearers from the trusted issuers (RFC 7519 §7.2, with the
 * RFC 8725 hardening). Order: shape and size (no decoding) → decode header and claims
 * → issuer by exact match (before any key fetch) → algorithm allow-list → signature
 * against that issuer's keys → aud / exp / iat / nbf / lifetime → the configured claims.
 * Never throws for a bad token; every outcome is a value.
 */
export class JwtVerifier {
  private readonly issuers = new Map<string, { entry: TrustedIssuer; keys: JWTVerifyGetKey }>();
  private readonly now: () => number;
  private readonly log: Logger | undefined;

  constructor(issuers: readonly TrustedIssuer[], options: JwtVerifierOptions = {}) {
    for (const entry of issuers) this.issuers.set(entry.issuer, { entry, keys: createKeySource(entry, options.jwks) });
    this.now = options.now ?? (() => Date.now());
    this.log = options.log;
  }

  /** False when no issuer is configured: every JWT is then an unknown-issuer token. */
  get enabled(): boolean {
    return this.issuers.size > 0;
  }

  async verify(token: string): Promise<JwtVerification> {
    const result = await this.check(token);
    if (!result.ok) {
      const fields = { jwt_issuer: result.issuer, reason: result.reason, detail: result.detail };
      // One warning per failed fetch; the fail-fast answers inside the back-off would only repeat it.
      if (result.outcome === 'unavailable') this.log?.[result.fetched ? 'warn' : 'debug'](fields, 'jwt: issuer keys unavailable');
      else this.log?.info(fields, 'jwt rejected');
    }
    return result;
  }

  private async check(token: string): Promise<JwtVerification> {
    const shape = checkCompactShape(token);
    if (shape) return invalid(shape.reason, shape.detail);

    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: ReturnType<typeof decodeJwt>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return invalid('malformed', 'the header is not a base64url JSON object');
    }
    try {
      claims = decodeJwt(token);
    } catch {
      return invalid('malformed', 'the payload is not a base64url JSON object');
    }

    if (typeof claims.iss !== 'string') return invalid('unknown_issuer', '"iss" is missing or not a string');
    const trusted = this.issuers.get(claims.iss);
    if (!trusted) return invalid('unknown_issuer', `issuer ${quote(claims.iss)} is not trusted`);
    const { entry } = trusted;

    // Checked here as well as by jose (`algorithms` below) so that no key is ever looked up for them.
    if (!isAsymmetricAlgorithm(header.alg) || !entry.algorithms.includes(header.alg)) {
      return invalid('alg_not_allowed', `alg ${quote(header.alg)} is not allowed for this issuer`, entry.issuer);
    }

    let payload;
    try {
      ({ payload } = await jwtVerify(token, trusted.keys, {
        issuer: entry.issuer,
        audience: entry.audience,
        algorithms: [...entry.algorithms],
        requiredClaims: ['exp', 'iat'],
        clockTolerance: CLOCK_SKEW_SECONDS,
        // Also refuses an `iat` in the future (beyond the skew), which would stretch the lifetime cap.
        maxTokenAge: entry.maxLifetimeSeconds,
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      if (err instanceof JwksUnavailable) {
        return { ok: false, outcome: 'unavailable', reason: 'jwks_unavailable', detail: err.message, issuer: entry.issuer, fetched: err.fetched };
      }
      return fromJoseError(err, entry.issuer);
    }

    const lifetime = payload.exp! - payload.iat!;
    if (lifetime > entry.maxLifetimeSeconds) {
      return invalid('lifetime_exceeded', `exp - iat = ${lifetime}s exceeds ${entry.maxLifetimeSeconds}s`, entry.issuer);
    }
    const identity = identityFromClaims(entry, payload);
    if ('reason' in identity) return invalid(identity.reason, identity.detail, entry.issuer);
    return { ok: true, identity };
  }
}
