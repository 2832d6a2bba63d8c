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
  /** A device session bound to a key (DPoP): the key's JWK thumbprint; null for bearer sessions and API keys. */
  dpop_jkt: string | null;
  /** The account was disabled (`admin disable-account`): its tokens are refused even if a row was missed. */
  disabled: boolean;
}

const ACCOUNT_COLUMNS = `
  a.name AS display_name, coalesce(a.disabled_at IS NOT NULL, false) AS disabled,
  (SELECT m.workspace_id FROM memberships m WHERE m.account_id = a.id ORDER BY m.current DESC, m.created_at LIMIT 1) AS default_workspace_id`;

/** Token lookups and lifecycle by sha256 hash; plain tokens never reach this module. */
export class TokenRepo {
  constructor(private readonly db: Database) {}

  async findOauthByHash(hash: string): Promise<TokenRow | undefined> {
    return this.db.one<TokenRow>(
      `SELECT t.id, 'oauth' AS source, t.prefix, t.account_id, t.subject_email, t.subject_issuer, NULL::text[] AS scopes,
              t.expires_at, t.revoked_at, t.subject_sub, t.subject_name, t.dpop_jkt, ${ACCOUNT_COLUMNS}
         FROM oauth_access_tokens t LEFT JOIN accounts a ON a.id = t.account_id
        WHERE t.token_hash = $1`,
      [hash],
    );
  }

  async findApiKeyByHash(hash: string): Promise<TokenRow | undefined> {
    return this.db.one<TokenRow>(
      `SELECT k.id, 'api_key' AS source, k.prefix, k.account_id, a.email AS subject_email, '${ACCOUNT_ISSUER}' AS subject_issuer,
              k.scopes, k.expires_at, k.revoked_at, NULL AS subject_sub, NULL AS subject_name, NULL AS dpop_jkt, ${ACCOUNT_COLUMNS}
         FROM api_keys k JOIN accounts a ON a.id = k.account_id
        WHERE k.token_hash = $1`,
      [hash],
    );
  }

  /**
   * Hard-expires on sight: compare-and-set so that only one replica wins and the
   * row keeps its id for audit. True when this call did it. A device session whose
   * refresh token still lives loses only its access token: the refresh grant renews it.
   */
  async hardExpire(source: TokenRow['source'], id: string, hash: string): Promise<boolean> {
    const rows =
      source === 'oauth'
        ? await this.db.query(
            `UPDATE oauth_access_tokens
                SET token_hash = NULL,
                    revoked_at = CASE WHEN refresh_token_hash IS NOT NULL AND refresh_expires_at > now() THEN NULL ELSE now() END,
                    refresh_token_hash = CASE WHEN refresh_expires_at > now() THEN refresh_token_hash END
              WHERE id = $1 AND token_hash = $2 AND revoked_at IS NULL RETURNING id`,
            [id, hash],
          )
        : await this.db.query(`UPDATE api_keys SET revoked_at = now(), token_hash = NULL WHERE id = $1 AND token_hash = $2 AND revoked_at IS NULL RETURNING id`, [
            id,
            hash,
          ]);
    return rows.length === 1;
  }

  async touch(source: TokenRow['source'], ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const table = source === 'oauth' ? 'oauth_access_tokens' : 'api_keys';
    await this.db.query(`UPDATE ${table} SET last_used_at = now() WHERE id = ANY($1::uuid[])`, [ids]);
  }
}
