import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTVerifyGetKey } from 'jose';
import type { TrustedIssuer } from './trusted-issuers.ts';

export interface JwksOptions {
  /** An unknown `kid` refetches the JWKS at most this often (ms). */
  cooldownMs?: number;
  /** Keys are refetched once they are this old, even for known `kid`s (ms). */
  cacheMaxAgeMs?: number;
  /** One JWKS request is abandoned after this long (ms). */
  timeoutMs?: number;
  /** After a failed fetch, tokens that need a fetch fail fast for this long instead of queueing on a dead endpoint (ms). */
  failureBackoffMs?: number;
}

export const JWKS_DEFAULTS: Required<JwksOptions> = {
  cooldownMs: 30_000,
  cacheMaxAgeMs: 600_000,
  timeoutMs: 5_000,
  failureBackoffMs: 5_000,
};

/** The issuer's keys could not be obtained: the token may be fine, we cannot tell. */
export class JwksUnavailable extends Error {
  constructor(
    message: string,
    /** False when no request was made (inside the back-off after a failure). */
    readonly fetched: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * "No key for this token" is the token's fault (an unknown or foreign `kid`), and jose
 * needs JWKSMultipleMatchingKeys unchanged to try each candidate.
 */
function isKeyMiss(err: unknown): boolean {
  return err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported;
}

function describeFetchFailure(err: unknown): string {
  if (err instanceof errors.JWKSTimeout) return 'the JWKS request timed out';
  if (err instanceof errors.JOSEError) return err.message;
  const cause = (err as { cause?: { code?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
  return `the JWKS request failed${code}`;
}

/**
 * The key lookup for one issuer: jose's remote JWKS (cache, and a cooldown so an unknown
 * `kid` refetches at most once per `cooldownMs`) or a local set for air-gapped setups.
 * Any failure to obtain keys surfaces as JwksUnavailable, never as an invalid token.
 */
export function createKeySource(entry: Pick<TrustedIssuer, 'jwks' | 'jwksUri'>, options: JwksOptions = {}): JWTVerifyGetKey {
  if (entry.jwks) return createLocalJWKSet(entry.jwks);
  const o = { ...JWKS_DEFAULTS, ...options };
  const remote = createRemoteJWKSet(new URL(entry.jwksUri!), {
    cooldownDuration: o.cooldownMs,
    cacheMaxAge: o.cacheMaxAgeMs,
    timeoutDuration: o.timeoutMs,
  });
  let failedAt = Number.NEGATIVE_INFINITY;
  return async (header, token) => {
    // jose would fetch again for every token while it has no fresh keys; after a failure, do not
    // pile requests onto a dead endpoint. Fresh cached keys keep verifying during an outage.
    if (!remote.fresh && !remote.reloading && Date.now() - failedAt < o.failureBackoffMs) {
      throw new JwksUnavailable('the JWKS endpoint failed moments ago; waiting before the next attempt', false);
    }
    try {
      return await remote(header, token);
    } catch (err) {
      if (isKeyMiss(err)) throw err;
      failedAt = Date.now();
      throw new JwksUnavailable(describeFetchFailure(err), true, { cause: err });
    }
  };
}
