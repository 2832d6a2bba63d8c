import type { Database } from '../db.ts';

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
}

const COLUMNS = 'id, name, prefix, scopes, created_at, last_used_at, expires_at';

export class ApiKeyRepo {
  constructor(private readonly db: Database) {}

  async create(accountId: string, name: string, tokenHash: string, scopes: string[], expiresInDays: number | null): Promise<ApiKeyRow> {
    return (await this.db.one<ApiKeyRow>(
      `INSERT INTO api_keys (account_id, name, token_hash, prefix, scopes, expires_at)
       VALUES ($1, $2, $3, 'tsk_', $4, CASE WHEN $5::int IS NULL THEN NULL ELSE now() + make_interval(days => $5::int) END)
       RETURNING ${COLUMNS}`,
      [accountId, name, tokenHash, scopes, expiresInDays],
    ))!;
  }

  async listLive(accountId: string, limit: number, offset: number): Promise<{ rows: ApiKeyRow[]; total: number }> {
    return this.db.page<ApiKeyRow>({
      columns: COLUMNS,
      from: 'api_keys WHERE account_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())',
      orderBy: 'created_at DESC, id',
      values: [accountId],
      limit,
      offset,
    });
  }

  /** Revokes every live key of the account (offboarding); returns their ids and the hashes they had. */
  async revokeAllOf(accountId: string): Promise<{ id: string; token_hash: string }[]> {
    return this.db.query(
      `UPDATE api_keys k SET revoked_at = now(), token_hash = NULL
         FROM (SELECT id, token_hash FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL FOR UPDATE) old
        WHERE k.id = old.id RETURNING old.id, old.token_hash`,
      [accountId],
    );
  }

  /** Revokes one of the account's keys; returns the hash it had, so caches can drop it. */
  async revoke(accountId: string, id: string): Promise<{ token_hash: string } | undefined> {
    return this.db.one(
      `UPDATE api_keys k SET revoked_at = now(), token_hash = NULL
         FROM (SELECT id, token_hash FROM api_keys WHERE id = $2 AND account_id = $1 AND revoked_at IS NULL FOR UPDATE) old
        WHERE k.id = old.id RETURNING old.token_hash`,
      [accountId, id],
    );
  }
}
