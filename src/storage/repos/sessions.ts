import type { Database } from '../db.ts';

export interface SessionRow {
  id: string;
  client_id: string;
  device_label: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date;
}

/** An account's live device-flow authorizations (rows of oauth_access_tokens). */
export class SessionRepo {
  constructor(private readonly db: Database) {}

  async listLive(accountId: string, limit: number, offset: number): Promise<{ rows: SessionRow[]; total: number }> {
    return this.db.page<SessionRow>({
      columns: 'id, client_id, device_label, created_at, last_used_at, expires_at',
      from: 'oauth_access_tokens WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > now()',
      orderBy: 'created_at DESC, id',
      values: [accountId],
      limit,
      offset,
    });
  }

  /** Revokes every live device token of the account; returns the hashes they had, so caches can drop them. */
  async revokeAllLive(accountId: string): Promise<{ id: string; token_hash: string | null }[]> {
    return this.db.query(
      `UPDATE oauth_access_tokens t SET revoked_at = now(), token_hash = NULL
         FROM (SELECT id, token_hash FROM oauth_access_tokens WHERE account_id = $1 AND revoked_at IS NULL FOR UPDATE) old
        WHERE t.id = old.id RETURNING old.id, old.token_hash`,
      [accountId],
    );
  }
}
