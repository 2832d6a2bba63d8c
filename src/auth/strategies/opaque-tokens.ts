import type { TokenRepo, TokenRow } from '../../storage/repos/tokens.ts';
import type { AuthContext, BearerStrategy, Identified } from '../auth-context.ts';
import type { AuditSink } from '../../observability/audit.ts';
import type { AuditOrigin } from '../../observability/audit-catalog.ts';
import type { InvalidatingCache } from '../invalidating-cache.ts';
import { isScope, type Scope } from '../scopes.ts';
import { kindByPrefix, parseToken, type TokenKind } from '../token-kinds.ts';
import { unauthorized } from '../unauthorized.ts';

/**
 * Opaque kinds of the registry (`tsa_`, `tse_`, `tsk_`). Shape and checksum decide
 * without I/O; the rate limit is keyed by the token hash before any lookup, so unknown
 * and revoked tokens are limited too; identity comes from the cache, else Postgres.
 *
 * It claims only the kinds it is given (those of the server's edition): a community
 * server claims no `tse_` token, however valid its row: `401 invalid_token` before any
 * I/O, exactly like an unknown prefix.
 */
export class OpaqueTokenStrategy implements BearerStrategy {
  readonly name = 'opaque';

  constructor(
    private readonly tokens: TokenRepo,
    private readonly cache: InvalidatingCache<AuthContext>,
    private readonly audit: AuditSink,
    private readonly kinds: readonly TokenKind[],
  ) {}

  claims(token: string): boolean {
    const kind = parseToken(token);
    return kind !== null && this.kinds.includes(kind);
  }

  identify(token: string, tokenHash: string): Identified {
    // claims() parsed it (shape and checksum) just before: the prefix is all that is left to read.
    const kind = kindByPrefix(token.slice(0, 4))!;
    return {
      tokenSource: kind.source,
      rateLimitKey: tokenHash,
      resolve: () => this.cache.get(tokenHash) ?? this.load(kind, tokenHash),
      expire: (auth, origin) => this.expire(auth, origin),
    };
  }

  private async load(kind: TokenKind, tokenHash: string): Promise<AuthContext> {
    const row = kind.table === 'api_keys' ? await this.tokens.findApiKeyByHash(tokenHash) : await this.tokens.findOauthByHash(tokenHash);
    // A disabled account's tokens were all revoked when it was disabled; this refuses any that a race let through.
    if (!row || row.revoked_at || row.disabled) throw unauthorized('invalid_token');
    // The row must have been minted as this kind (the prefix is part of what was hashed, so this is belt and braces).
    if (row.prefix !== kind.prefix) throw unauthorized('invalid_token');
    const auth = contextOf(kind, row, tokenHash);
    if (auth.expiresAtMs === null || auth.expiresAtMs > Date.now()) this.cache.set(tokenHash, auth);
    return auth;
  }

  private async expire(auth: AuthContext, origin: AuditOrigin): Promise<void> {
    if (auth.source !== 'jwt' && (await this.tokens.hardExpire(auth.source, auth.tokenId, auth.tokenHash))) {
      this.audit('oauth.token_revoked', { token_id: auth.tokenId, subject: auth.subject, reason: 'expired', ...origin });
    }
    await this.cache.invalidate([auth.tokenHash]);
  }
}

function contextOf(kind: TokenKind, row: TokenRow, tokenHash: string): AuthContext {
  const scopes = (kind.scopes ?? (row.scopes ?? []).filter(isScope)) as Scope[];
  const external = kind.subject === 'external';
  // An external subject is who the IdP says (`sub`); an account is its id.
  const subject = external ? (row.subject_sub ?? row.subject_email ?? row.id) : row.account_id!;
  const email = row.subject_email;
  const expiresAt = row.expires_at ? row.expires_at.toISOString() : null;
  return {
    subjectKind: kind.subject,
    issuer: row.subject_issuer,
    subject,
    email,
    accountId: external ? null : row.account_id,
    scopes,
    expiresAtMs: row.expires_at ? row.expires_at.getTime() : null,
    principal: {
      sub: subject,
      principal_type: 'user',
      email,
      display_name: (external ? row.subject_name : row.display_name) || email || '',
      prefix: kind.prefix,
      scopes,
      expires_at: expiresAt,
      subject_issuer: row.subject_issuer,
      default_workspace_id: external ? null : row.default_workspace_id,
    },
    source: row.source,
    tokenSource: kind.source,
    tokenId: row.id,
    dpopJkt: row.dpop_jkt,
    tokenHash,
    rateLimitKey: tokenHash,
    workspaceConfinement: null,
    verifiedTenants: {},
  };
}
