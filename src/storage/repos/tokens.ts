import type { Database } from '../db.ts';

export const ACCOUNT_ISSUER = 'tessera:account';

export interface TokenRow {
  id: string;
  source: 'oauth' | 'api_key';
  prefix: string;
  account_id: string | null;
  subject_email: string | null;
  subject_issuer: string;
  display_name: string;
  scopes: string[] | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  default_workspace_id: string | null;
  /** External subjects (tse_): the IdP's `sub` and display name. */
  subject_sub: string | null;
  subject_name: string | null;
}

const ACCOUNT_COLUMNS = `
  a.name AS display_name,
  (SELECT m.workspace_id FROM memberships m WHERE m.account_id = a.id ORDER BY m.current DESC, m.created_at LIMIT 1) AS default_workspace_id`;

/** Token lookups and lifecycle by sha256 hash; plain tokens never reach this module. */
export class TokenRepo {
  constructor(private readonly db: Database) {}

  async findOauthByHash(hash: string): Promise<TokenRow | undefined> {
    return this.db.one<TokenRow>(
      `SELECT t.id, 'oauth' AS source, t.prefix, t.account_id, t.subject_email, t.subject_issuer, NULL::text[] AS scopes,
              t.expires_at, t.revoked_at, t.subject_sub, t.subject_name, ${ACCOUNT_COLUMNS}
         FROM oauth_access_tokens t LEFT JOIN accounts a ON a.id = t.account_id
        WHERE t.token_hash = $1`,
      [hash],
    );
  }

  async findApiKeyByHash(hash: string): Promise<TokenRow | undefined> {
    return this.db.one<TokenRow>(
      `SELECT k.id, 'api_key' AS source, k.prefix, k.account_id, a.email AS subject_email, '${ACCOUNT_ISSUER}' AS subject_issuer,
              k.scopes, k.expires_at, k.revoked_at, NULL AS subject_sub, NULL AS subject_name, ${ACCOUNT_COLUMNS}
         FROM api_keys k JOIN accounts a ON a.id = k.account_id
        WHERE k.token_hash = $1`,
      [hash],
    );
  }

  /**
   * Hard-expires on sight: compare-and-set so that only one replica wins and the
   * row keeps its id for audit. True when this call did it.
   */
  async hardExpire(source: TokenRow['source'], id: string, hash: string): Promise<boolean> {
    const table = source === 'oauth' ? 'oauth_access_tokens' : 'api_keys';
    const rows = await this.db.query(
      `UPDATE ${table} SET revoked_at = now(), token_hash = NULL
        WHERE id = $1 AND token_hash = $2 AND revoked_at IS NULL RETURNING id`,
      [id, hash],
    );
    return rows.length === 1;
  }

  /** Revokes by hash; returns the row's id and account when something was live. */
  async revokeOauthByHash(hash: string): Promise<{ id: string; account_id: string | null } | undefined> {
    return this.db.one(
      `UPDATE oauth_access_tokens SET revoked_at = now(), token_hash = NULL
        WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id, account_id`,
      [hash],
    );
  }

  async touch(source: TokenRow['source'], ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const table = source === 'oauth' ? 'oauth_access_tokens' : 'api_keys';
    await this.db.query(`UPDATE ${table} SET last_used_at = now() WHERE id = ANY($1::uuid[])`, [ids]);
  }
}
