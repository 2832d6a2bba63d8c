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
    const where = 'account_id = $1 AND revoked_at IS NULL AND expires_at > now()';
    const rows = await this.db.query<SessionRow & { total: string }>(
      `SELECT id, client_id, device_label, created_at, last_used_at, expires_at, count(*) OVER () AS total
         FROM oauth_access_tokens WHERE ${where} ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`,
      [accountId, limit, offset],
    );
    const total = rows[0]
      ? Number(rows[0].total)
      : Number((await this.db.one<{ n: string }>(`SELECT count(*) AS n FROM oauth_access_tokens WHERE ${where}`, [accountId]))?.n ?? 0);
    return { rows, total };
  }
}
