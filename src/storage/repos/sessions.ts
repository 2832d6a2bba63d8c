import type { Database } from '../db.ts';

export interface SessionRow {
  id: string;
  client_id: string;
  device_label: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date;
}

/** Whose device sessions: an account, or an external subject (issuer, email) without one. */
export type SessionOwner = { accountId: string } | { issuer: string; email: string };

/** The SQL condition (on oauth_access_tokens) and values that select one owner's rows, from `$1`. */
export function ownerClause(owner: SessionOwner): { where: string; values: string[] } {
  return 'accountId' in owner
    ? { where: 'account_id = $1', values: [owner.accountId] }
    : { where: 'account_id IS NULL AND subject_issuer = $1 AND subject_email = lower($2)', values: [owner.issuer, owner.email] };
}

/** A subject's live device-flow authorizations (rows of oauth_access_tokens). */
export class SessionRepo {
  constructor(private readonly db: Database) {}

  async listLive(owner: SessionOwner, limit: number, offset: number): Promise<{ rows: SessionRow[]; total: number }> {
    const { where, values } = ownerClause(owner);
    return this.db.page<SessionRow>({
      columns: 'id, client_id, device_label, created_at, last_used_at, expires_at',
      from: `oauth_access_tokens WHERE ${where} AND revoked_at IS NULL AND expires_at > now()`,
      orderBy: 'created_at DESC, id',
      values,
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
