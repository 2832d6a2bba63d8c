import type { JWTPayload } from 'jose';
import { JWKS_DEFAULTS, type JwksOptions } from '../../src/auth/jwt/key-source.ts';
import type { TrustedIssuer } from '../../src/auth/jwt/trusted-issuers.ts';
import type { Config } from '../../src/config.ts';
import { claimsFor, makeKit, trustedIssuers, type JwtKit } from './jwt-attacks.ts';
import { jwksOf, mint, startJwksServer, type JwksServer } from './jwks.ts';

/** Seconds since the epoch, now: tokens in end-to-end tests are minted against the real clock. */
export const nowSec = () => Math.floor(Date.now() / 1000);

/** The three test issuers with their JWKS endpoints served over HTTP on free ports. */
export interface JwtIssuers {
  kit: JwtKit;
  idpJwks: JwksServer;
  gatewayJwks: JwksServer;
  /** Builds the trusted-issuer list; `idpUrl` lets a test put a proxy in front of the IdP's JWKS. */
  trusted(idpUrl?: string): readonly TrustedIssuer[];
  close(): Promise<void>;
}

export async function startJwtIssuers(): Promise<JwtIssuers> {
  const kit = await makeKit();
  const idpJwks = await startJwksServer(jwksOf(kit.rsa, kit.ec));
  const gatewayJwks = await startJwksServer(jwksOf(kit.ed));
  return {
    kit,
    idpJwks,
    gatewayJwks,
    trusted: (idpUrl = idpJwks.url) => trustedIssuers(kit, idpUrl, gatewayJwks.url),
    async close() {
      await Promise.all([idpJwks.close(), gatewayJwks.close()]);
    },
  };
}

/**
 * An enterprise server's config trusting `issuers`. An unknown kid refetches at once (no
 * cooldown) so rotation tests need no waiting; the invalid-token bound is out of the way
 * unless a test sets it.
 */
export function jwtServerConfig(
  issuers: readonly TrustedIssuer[],
  over: { keys?: JwksOptions; invalidPerAddress?: number; config?: Partial<Config> } = {},
): Partial<Config> {
  return {
    edition: 'enterprise',
    trustedJwtIssuers: issuers,
    jwtBearers: {
      keys: { ...JWKS_DEFAULTS, cooldownMs: 0, timeoutMs: 2_000, failureBackoffMs: 200, ...over.keys },
      invalidPerAddress: over.invalidPerAddress ?? 100_000,
      invalidWindowMs: 60_000,
    },
    ...over.config,
  };
}

/** Token minting against the real clock, for the IdP (federated) and the gateway. */
export function minters(kit: JwtKit, workspace: () => string) {
  const claims = claimsFor(nowSec, workspace);
  return {
    claims,
    /** A federated token (RS256 unless another IdP key is given). */
    federated: (over: JWTPayload = {}, key = kit.rsa) => mint(key, claims.idp(over)),
    /** A gateway token (EdDSA) for the workspace, with `apps:read apps:run`. */
    gateway: (over: JWTPayload = {}) => mint(kit.ed, claims.gateway({ scope: 'apps:read apps:run', ...over })),
  };
}
