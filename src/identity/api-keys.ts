import { generateToken, hashToken } from '../auth/token-kinds.ts';
import type { AuditOrigin } from '../observability/audit-catalog.ts';
import { perServices, type Services } from '../services.ts';
import type { ApiKeyRow } from '../storage/repos/api-keys.ts';

export type ApiKeyScope = 'apps:read' | 'apps:run';

export function apiKeyView(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes as ApiKeyScope[],
    created_at: k.created_at.toISOString(),
    last_used_at: k.last_used_at?.toISOString() ?? null,
    expires_at: k.expires_at?.toISOString() ?? null,
  };
}

/**
 * Personal API keys (`tsk_`), for the bearer routes (`/me/api-keys`) and the account
 * page alike. The key exists in the create answer only; a revocation drops the key's
 * cached identity on every replica (pub/sub), so it stops working at once everywhere.
 */
export class ApiKeyService {
  constructor(private readonly s: Services) {}

  list(accountId: string, limit: number, offset: number) {
    return this.s.apiKeys.listLive(accountId, limit, offset);
  }

  async create(accountId: string, input: { name: string; scopes: ApiKeyScope[]; expiresInDays: number | null }, origin: AuditOrigin = {}) {
    const key = generateToken('tsk_');
    const row = await this.s.apiKeys.create(accountId, input.name, hashToken(key), input.scopes, input.expiresInDays);
    this.s.audit('oauth.token_issued', { token_id: row.id, token_kind: 'api_key', subject: accountId, scopes: input.scopes, ...origin });
    return { ...apiKeyView(row), key };
  }

  /** False when the key is not the account's or is no longer live. */
  async revoke(accountId: string, id: string, origin: AuditOrigin = {}): Promise<boolean> {
    const revoked = await this.s.apiKeys.revoke(accountId, id);
    if (!revoked) return false;
    await this.s.authenticator.cache.invalidate([revoked.token_hash]);
    this.s.audit('oauth.token_revoked', { token_id: id, subject: accountId, reason: 'api_key_deleted', ...origin });
    return true;
  }
}

export const apiKeysFor = perServices((s) => new ApiKeyService(s));
