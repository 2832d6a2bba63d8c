import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { TokenRepo } from '../storage/repos/tokens.ts';
import type { AuditSink } from '../observability/audit.ts';
import type { AuthContext, BearerStrategy, TokenSource } from './auth-context.ts';
import { expectedHtu } from './dpop/htu.ts';
import { JTI_MEMORY_MS } from './dpop/policy.ts';
import { athOf, DpopVerifier, type VerifiedProof } from './dpop/proof.ts';
import { DpopRefused, dpopUnauthorized } from './dpop/refusals.ts';
import { InvalidatingCache } from './invalidating-cache.ts';
import { LastUsedTracker } from './last-used.ts';
import { RateLimiter, rateLimitHeaders, resetSeconds, type RateLimitResult } from './rate-limit.ts';
import { OpaqueTokenStrategy } from './strategies/opaque-tokens.ts';
import { hashToken, kindsFor } from './token-kinds.ts';
import { unauthorized } from './unauthorized.ts';

export type { AuditSink } from '../observability/audit.ts';
export type { AuthContext, BearerStrategy, Identified, Principal, SubjectKind, TokenSource } from './auth-context.ts';
export { unauthorized } from './unauthorized.ts';

/** What the authenticator reads of the request a bearer came with (an express Request is one). */
export interface BearerRequest {
  readonly ip?: string | undefined;
  readonly id?: string;
  /** For a DPoP proof (RFC 9449 §4.3): the method, the target as received (its path is what `htu` must name, after PUBLIC_URL), the `DPoP` header. */
  readonly method?: string;
  readonly originalUrl?: string;
  readonly headers?: { authorization?: string; dpop?: string | string[] };
  tessera?: { tokenSource?: TokenSource };
}

export interface Authenticated {
  auth: AuthContext;
  rate: RateLimitResult;
  /** The scheme the token came in: DPoP answers are challenged in DPoP. */
  scheme: Scheme;
}

/**
 * The single source of identity and of the per-token rate limit (docs/tokens.md). Token
 * sources are strategies picked by the token's shape; for every one of them the order is
 * shape (no I/O) → identify → rate limit (one store script) → identity → expiry.
 * With `Authorization: DPoP` the proof is checked before the limit (no I/O, one signature
 * verification), its `jti` is recorded by the limit's own script, and the token's binding
 * is checked once its identity is known (docs/tokens.md, "DPoP").
 */
export class BearerAuthenticator {
  /** Resolved identities by token hash; revocation and rotation publish the hash. */
  readonly cache: InvalidatingCache<AuthContext>;
  private readonly strategies: BearerStrategy[];
  private readonly limiter: RateLimiter;
  private readonly lastUsed: LastUsedTracker;
  /** DPoP proofs, here and at the token endpoint (one cache of their keys). */
  readonly dpop = new DpopVerifier();

  constructor(
    private readonly config: Config,
    tokens: TokenRepo,
    store: ConstructorParameters<typeof RateLimiter>[0],
    log: Logger,
    audit: AuditSink,
  ) {
    this.cache = new InvalidatingCache(store, log);
    this.limiter = new RateLimiter(store, config.rateLimitPerToken);
    this.lastUsed = new LastUsedTracker(tokens, log);
    // External subjects' device logins (tse_) are a token source of the enterprise edition only:
    // a community server on the same database claims none of them (401 invalid_token, no I/O).
    this.strategies = [new OpaqueTokenStrategy(tokens, this.cache, audit, kindsFor(config.edition))];
  }

  /** Adds a token source (e.g. JWTs); the first strategy that claims a token's shape handles it. */
  use(strategy: BearerStrategy): void {
    this.strategies.push(strategy);
  }

  async start(): Promise<void> {
    await this.cache.start();
  }

  /** Writes pending last_used_at marks now (normally a timer does). */
  flushLastUsed(): Promise<void> {
    return this.lastUsed.flush();
  }

  async stop(): Promise<void> {
    await this.cache.stop();
    await this.lastUsed.stop();
  }

  /**
   * `request`: the request the bearer came with. Its address (express `req.ip`: trusted
   * proxies worked out on each read) is read only by strategies that limit bad tokens per
   * client and for audit events; `tessera.tokenSource` is set as soon as a strategy has taken
   * the token for a source, so a refusal after that (rate limit, unknown or expired token)
   * is told apart by source too.
   */
  async authenticate(authorization: string | undefined, request: BearerRequest = {}): Promise<Authenticated> {
    if (!this.config.enableOauthBearer) {
      throw new ApiError(503, 'bearer_auth_disabled', 'Bearer authentication is disabled on this server.');
    }
    const presented = credentialsOf(authorization);
    if (presented === null) throw unauthorized('missing_token');
    const { token, scheme } = presented;
    const strategy = this.strategies.find((s) => s.claims(token));
    if (!strategy) throw unauthorized('invalid_token', {}, scheme);

    const tokenHash = hashToken(token);
    const proof = scheme === 'DPoP' ? await this.proofOf(request, tokenHash) : null;
    // Awaited only when it is a promise: each await is a microtask hop, and this runs on every request.
    const identifying = strategy.identify(token, tokenHash, () => request.ip ?? '');
    const identified = identifying instanceof Promise ? await identifying : identifying;
    if (request.tessera) request.tessera.tokenSource = identified.tokenSource;
    const namespace = identified.rateLimitNamespace ?? 'token';
    const rate = proof
      ? await this.limiter.hitWithProof(namespace, identified.rateLimitKey, proof.jti, JTI_MEMORY_MS)
      : await this.limiter.hit(namespace, identified.rateLimitKey);
    // The headers as an object only for a refusal; a request that passes gets them set by the bearer check.
    if (!rate.allowed) {
      throw new ApiError(429, 'rate_limited', 'Too many requests for this token; retry later.', {
        retryAfterMs: rate.resetMs,
        headers: { ...rateLimitHeaders(rate), 'Retry-After': resetSeconds(rate.resetMs) },
      });
    }
    if (proof && !rate.fresh) throw dpopUnauthorized(new DpopRefused('replayed'), rateLimitHeaders(rate));

    let auth: AuthContext;
    try {
      const resolving = identified.resolve();
      auth = resolving instanceof Promise ? await resolving : resolving;
    } catch (err) {
      // Refusals after the limit was counted still tell the client where it stands.
      if (err instanceof ApiError) throw new ApiError(err.status, err.code, err.message, { ...err.extra, headers: { ...rateLimitHeaders(rate), ...err.extra.headers } });
      throw err;
    }
    // RFC 9449 §7.1–7.2: a bound token only with a proof of its key, never as a bearer token.
    if (auth.dpopJkt !== null && proof?.jkt !== auth.dpopJkt) {
      throw dpopUnauthorized(new DpopRefused(proof ? 'wrong_key' : 'bound_as_bearer'), rateLimitHeaders(rate));
    }
    if (auth.expiresAtMs !== null && auth.expiresAtMs <= Date.now()) {
      await identified.expire(auth, { request_id: request.id, client_address: request.ip });
      throw unauthorized('token_expired', rateLimitHeaders(rate), scheme);
    }
    if (auth.source !== 'jwt') this.lastUsed.mark(auth.source, auth.tokenId);
    return { auth, rate, scheme };
  }

  /** The request's DPoP proof, checked against its method, its URL as seen from PUBLIC_URL and the token (RFC 9449 §4.3, §7.1). */
  private async proofOf(request: BearerRequest, tokenHash: string): Promise<VerifiedProof> {
    try {
      return await this.dpop.verify(request.headers?.dpop, {
        method: request.method ?? '',
        htu: expectedHtu(this.config.publicUrl, request.originalUrl ?? ''),
        ath: athOf(tokenHash),
      });
    } catch (err) {
      if (err instanceof DpopRefused) throw dpopUnauthorized(err);
      throw err;
    }
  }
}

/**
 * Far beyond any token we accept (the largest JWT is 12,288 characters) and beyond Node's
 * default 16 KiB header limit: a header this long is refused without being matched. Anything
 * shorter reaches the strategies, so an oversized JWT is still refused, and logged, as too_large.
 */
const MAX_AUTHORIZATION = 65_536;
// The token must hold a non-space, so a run of spaces is never split between two quantifiers:
// the match stays linear (`[ ]+(\S*)\s*` backtracked quadratically on "Bearer" + 16k spaces + "a b").
const CREDENTIALS = /^(Bearer|DPoP)(?:[ ]+(\S+))?\s*$/i;

export type Scheme = 'Bearer' | 'DPoP';

/**
 * The scheme and token of an `Authorization: Bearer …` (RFC 6750 §2.1) or `Authorization:
 * DPoP …` (RFC 9449 §7.1) header, schemes in any case: the token is '' when the scheme has
 * none, and the whole is null when there is no such header at all (→ missing_token). A header
 * longer than any token we accept has the token '' (→ invalid_token) without being matched.
 */
export function credentialsOf(authorization: string | undefined): { scheme: Scheme; token: string } | null {
  if (authorization === undefined) return null;
  if (authorization.length > MAX_AUTHORIZATION) {
    const scheme = /^(Bearer|DPoP) /i.exec(authorization)?.[1];
    return scheme ? { scheme: schemeOf(scheme), token: '' } : null;
  }
  const match = CREDENTIALS.exec(authorization);
  return match ? { scheme: schemeOf(match[1]!), token: match[2] ?? '' } : null;
}

const schemeOf = (name: string): Scheme => (name.length === 4 ? 'DPoP' : 'Bearer');
