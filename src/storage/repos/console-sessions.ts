import type { Database } from '../db.ts';

/** Console sessions by the SHA-256 of their id; the id itself lives only in the signed cookie. */
export class ConsoleSessionRepo {
  constructor(private readonly db: Database) {}

  async create(idHash: string, accountId: string, expiresAt: Date): Promise<void> {
    await this.db.query('INSERT INTO console_sessions (id, account_id, expires_at) VALUES ($1, $2, $3)', [idHash, accountId, expiresAt]);
  }

  /** True for a session that exists, is not signed out and has not expired. */
  async isLive(idHash: string): Promise<boolean> {
    const row = await this.db.one('SELECT 1 FROM console_sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()', [idHash]);
    return row !== undefined;
  }

  async revoke(idHash: string): Promise<void> {
    await this.db.query('UPDATE console_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1', [idHash]);
  }

  /** Ends every live session of the account except `keepIdHash` (null: all of them); returns the ended ones. */
  async revokeAllOf(accountId: string, keepIdHash: string | null): Promise<{ id: string; expires_at: Date }[]> {
    return this.db.query<{ id: string; expires_at: Date }>(
      `UPDATE console_sessions SET revoked_at = now()
        WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > now() AND ($2::text IS NULL OR id <> $2)
        RETURNING id, expires_at`,
      [accountId, keepIdHash],
    );
  }
}
