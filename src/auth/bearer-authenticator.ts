import type { Logger } from 'pino';
import type { components } from '../../generated/openapi.ts';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import { type TokenRepo, type TokenRow } from '../storage/repos/tokens.ts';
import { InvalidatingCache } from './invalidating-cache.ts';
import { LastUsedTracker } from './last-used.ts';
import { RateLimiter, rateLimitHeaders, type RateLimitResult } from './rate-limit.ts';
import { isScope, type Scope } from './scopes.ts';
import { hashToken, parseToken, type TokenKind } from './token-kinds.ts';

export type Principal = components['schemas']['Principal'];

export interface AuthContext {
  principal: Principal;
  kind: TokenKind['kind'];
  source: TokenRow['source'];
  tokenId: string;
  tokenHash: string;
  accountId: string | null;
  scopes: Scope[];
  expiresAtMs: number | null;
  /** workspace id → is the caller a member; filled lazily, cached with the identity. */
  verifiedTenants: Record<string, boolean>;
}

export interface Authenticated {
  auth: AuthContext;
  rate: RateLimitResult;
}

const REALM = 'Bearer realm="tessera"';

export function unauthorized(code: 'missing_token' | 'invalid_token' | 'token_expired', headers: Record<string, string> = {}) {
  const messages = {
    missing_token: 'A bearer token is required.',
    invalid_token: 'The access token is invalid.',
    token_expired: 'The access token has expired.',
  };
  const challenge = code === 'missing_token' ? REALM : `${REALM}, error="invalid_token"`;
  return new ApiError(401, code, messages[code], { headers: { ...headers, 'WWW-Authenticate': challenge } });
}

export interface AuditSink {
  (event: string, fields: Record<string, unknown>): void;
}

/**
 * The single source of identity and of the per-token rate limit (docs/tokens.md).
 * Order: shape and checksum (no I/O) → rate limit (one store script, counted for
 * unknown and revoked tokens too) → identity (cache, else Postgres).
 */
export class BearerAuthenticator {
  readonly cache: InvalidatingCache<AuthContext>;
  private readonly limiter: RateLimiter;
  private readonly lastUsed: LastUsedTracker;

  constructor(
    private readonly config: Config,
    private readonly tokens: TokenRepo,
    store: ConstructorParameters<typeof RateLimiter>[0],
    private readonly log: Logger,
    private readonly audit: AuditSink,
  ) {
    this.cache = new InvalidatingCache(store, log);
    this.limiter = new RateLimiter(store, config.rateLimitPerToken);
    this.lastUsed = new LastUsedTracker(tokens, log);
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

  async authenticate(authorization: string | undefined): Promise<Authenticated> {
    if (!this.config.enableOauthBearer) {
      throw new ApiError(503, 'bearer_auth_disabled', 'Bearer authentication is disabled on this server.');
    }
    const match = authorization?.match(/^Bearer(?:[ ]+(\S*))?\s*$/i);
    if (!match) throw unauthorized('missing_token');
    const token = match[1] ?? '';
    const kind = parseToken(token);
    if (!kind) throw unauthorized('invalid_token');

    const tokenHash = hashToken(token);
    const rate = await this.limiter.hit('token', tokenHash);
    const headers = rateLimitHeaders(rate);
    if (!rate.allowed) {
      const seconds = Math.max(1, Math.ceil(rate.resetMs / 1000));
      throw new ApiError(429, 'rate_limited', 'Too many requests for this token; retry later.', {
        retryAfterMs: rate.resetMs,
        headers: { ...headers, 'Retry-After': String(seconds) },
      });
    }

    const auth = this.cache.get(tokenHash) ?? (await this.resolve(kind, tokenHash, headers));
    if (auth.expiresAtMs !== null && auth.expiresAtMs <= Date.now()) {
      await this.expire(auth);
      throw unauthorized('token_expired', headers);
    }
    this.lastUsed.mark(auth.source, auth.tokenId);
    return { auth, rate };
  }

  private async resolve(kind: TokenKind, tokenHash: string, headers: Record<string, string>): Promise<AuthContext> {
    const row =
      kind.table === 'api_keys' ? await this.tokens.findApiKeyByHash(tokenHash) : await this.tokens.findOauthByHash(tokenHash);
    if (!row || row.revoked_at) throw unauthorized('invalid_token', headers);
    // The row must have been minted as this kind (the prefix is part of what was hashed, so this is belt and braces).
    if (row.prefix !== kind.prefix) throw unauthorized('invalid_token', headers);
    const scopes = (kind.scopes ?? (row.scopes ?? []).filter(isScope)) as Scope[];
    const auth: AuthContext = {
      principal: {
        sub: row.account_id ?? row.subject_email ?? row.id,
        principal_type: 'user',
        email: row.subject_email,
        display_name: row.display_name ?? row.subject_email ?? '',
        prefix: kind.prefix,
        scopes,
        expires_at: row.expires_at ? row.expires_at.toISOString() : null,
        subject_issuer: row.subject_issuer,
        default_workspace_id: row.default_workspace_id,
      },
      kind: kind.kind,
      source: row.source,
      tokenId: row.id,
      tokenHash,
      accountId: row.account_id,
      scopes,
      expiresAtMs: row.expires_at ? row.expires_at.getTime() : null,
      verifiedTenants: {},
    };
    if (auth.expiresAtMs === null || auth.expiresAtMs > Date.now()) this.cache.set(tokenHash, auth);
    return auth;
  }

  private async expire(auth: AuthContext): Promise<void> {
    if (await this.tokens.hardExpire(auth.source, auth.tokenId, auth.tokenHash)) {
      this.audit('oauth.token_expired', { token_id: auth.tokenId, subject: auth.principal.sub });
    }
    await this.cache.invalidate([auth.tokenHash]);
  }
}
