import type { Logger } from 'pino';
import type { Config } from '../../config.ts';
import { ApiError } from '../../errors.ts';
import type { AuthContext, BearerStrategy, Identified } from '../auth-context.ts';
import { looksLikeJwt } from '../jwt/compact-shape.ts';
import { JwtIdentityCache } from '../jwt/identity-cache.ts';
import type { JwtIdentity } from '../jwt/identity.ts';
import { InvalidTokenLimit } from '../jwt/invalid-token-limit.ts';
import { CLOCK_SKEW_SECONDS, JwtVerifier } from '../jwt/verifier.ts';
import { rateLimitHeaders, resetSeconds } from '../rate-limit.ts';
import { unauthorized } from '../unauthorized.ts';

/** The rate-limit namespace of JWT subjects: `rl:jwt-subject:{sha256(iss, sub)}`, shared by every replica. */
export const JWT_RATE_LIMIT_NAMESPACE = 'jwt-subject';

/**
 * JWT bearers from trusted issuers (enterprise edition; docs/enterprise.md, "JWT
 * bearers"). Claims any dotted bearer (opaque tokens never contain a dot). A cached
 * identity — keyed by the token's hash, until its expiry — is answered without decoding,
 * verifying or any I/O, so the request's one store round trip is the rate limit. A cold
 * token is verified first (issuer before any key fetch) and only then counted, per
 * `(iss, sub)`: a forged token never spends a real subject's budget. Tokens that fail
 * verification are counted per client address instead (InvalidTokenLimit).
 */
export class JwtBearerStrategy implements BearerStrategy {
  readonly name = 'jwt';
  readonly cache = new JwtIdentityCache<AuthContext>();
  private readonly invalid: InvalidTokenLimit;
  private readonly keyMaxAgeMs: number;
  private readonly retryAfterSeconds: string;

  constructor(
    readonly verifier: JwtVerifier,
    settings: Config['jwtBearers'],
    private readonly log: Logger,
  ) {
    this.invalid = new InvalidTokenLimit(settings.invalidPerAddress, settings.invalidWindowMs);
    this.keyMaxAgeMs = settings.keys.cacheMaxAgeMs;
    this.retryAfterSeconds = resetSeconds(settings.keys.failureBackoffMs);
  }

  claims(token: string): boolean {
    return looksLikeJwt(token);
  }

  identify(token: string, tokenHash: string, clientAddress: () => string): Identified | Promise<Identified> {
    const cached = this.cache.get(tokenHash);
    if (cached) return this.identified(cached);
    return this.verify(token, tokenHash, clientAddress());
  }

  private async verify(token: string, tokenHash: string, clientAddress: string): Promise<Identified> {
    const waitMs = this.invalid.blockedFor(clientAddress);
    if (waitMs > 0) {
      // The RateLimit-* headers describe the limit that fired: this address's invalid JWTs.
      const limit = rateLimitHeaders({ allowed: false, limit: this.invalid.limit, remaining: 0, resetMs: waitMs });
      throw new ApiError(429, 'rate_limited', 'Too many invalid bearer tokens from this address; retry later.', {
        retryAfterMs: waitMs,
        headers: { ...limit, 'Retry-After': resetSeconds(waitMs) },
      });
    }
    const result = await this.verifier.verify(token);
    if (!result.ok) {
      if (result.outcome === 'unavailable') {
        // The issuer's keys cannot be fetched: neither accepted nor called bad, and not the client's fault.
        throw new ApiError(503, 'service_unavailable', "The token issuer's keys cannot be obtained right now; retry shortly.", {
          headers: { 'Retry-After': this.retryAfterSeconds },
        });
      }
      if (this.invalid.record(clientAddress)) {
        this.log.warn({ client_address: clientAddress, reason: result.reason }, 'jwt: too many invalid tokens from one address; refusing its uncached JWTs for the rest of the window');
      }
      throw unauthorized('invalid_token');
    }
    const { auth, acceptedUntilMs } = contextOf(result.identity, tokenHash);
    // Until it expires, but no longer than the issuer's keys are cached: a key the issuer
    // withdraws stops every token it signed within that time, cached or not.
    this.cache.set(tokenHash, auth, Math.min(acceptedUntilMs, Date.now() + this.keyMaxAgeMs));
    return this.identified(auth);
  }

  private identified(auth: AuthContext): Identified {
    return {
      tokenSource: auth.tokenSource,
      rateLimitKey: auth.rateLimitKey,
      rateLimitNamespace: JWT_RATE_LIMIT_NAMESPACE,
      resolve: () => auth,
      expire: async () => this.cache.delete(auth.tokenHash),
    };
  }
}

/** The strategy for the enterprise edition; null in the community edition, where no verifier exists at all. */
export function jwtBearersFor(config: Config, log: Logger): JwtBearerStrategy | null {
  if (config.edition !== 'enterprise') return null;
  for (const entry of config.trustedJwtIssuers) {
    if (entry.kind === 'gateway' && entry.workspaces === null) {
      log.warn(
        { jwt_issuer: entry.issuer },
        `TRUSTED_JWT_ISSUERS: gateway issuer ${JSON.stringify(entry.issuer)} has no workspaces list: this gateway may name any workspace; set workspaces`,
      );
    }
  }
  const verifier = new JwtVerifier(config.trustedJwtIssuers, { jwks: config.jwtBearers.keys, log });
  return new JwtBearerStrategy(verifier, config.jwtBearers, log);
}

function contextOf(identity: JwtIdentity, tokenHash: string): { auth: AuthContext; acceptedUntilMs: number } {
  const scopes = [...identity.scopes];
  // Accepted until exp plus the clock skew the verifier allows; /me shows exp itself.
  const acceptedUntilMs = identity.expiresAtMs + CLOCK_SKEW_SECONDS * 1000;
  const auth: AuthContext = {
    // Federated tokens are external subjects (grants, like tse_); gateway tokens are confined service accounts.
    subjectKind: identity.kind === 'federated' ? 'external' : 'gateway',
    issuer: identity.issuer,
    subject: identity.subject,
    email: identity.email,
    accountId: null,
    scopes,
    expiresAtMs: acceptedUntilMs,
    principal: {
      sub: identity.subject,
      principal_type: identity.principalType,
      email: identity.email,
      display_name: identity.displayName,
      prefix: 'jwt',
      scopes,
      expires_at: new Date(identity.expiresAtMs).toISOString(),
      subject_issuer: identity.issuer,
      default_workspace_id: identity.workspaceId,
    },
    source: 'jwt',
    tokenSource: identity.kind === 'federated' ? 'jwt_federated' : 'jwt_gateway',
    // The issuer's jti when it sends one (correlates with its logs), else a prefix of the token's hash.
    tokenId: identity.jti ?? `sha256:${tokenHash.slice(0, 16)}`,
    // A trusted issuer's JWT is a bearer token here: a `cnf.jkt` it may carry is not read.
    dpopJkt: null,
    tokenHash,
    rateLimitKey: identity.rateLimitKey,
    workspaceConfinement: identity.workspaceId,
    verifiedTenants: {},
  };
  return { auth, acceptedUntilMs };
}
