import type { Database } from '../db.ts';

export interface SessionRow {
  id: string;
  client_id: string;
  device_label: string;
  created_at: Date;
  last_used_at: Date | null;
  last_refreshed_at: Date | null;
  expires_at: Date;
}

/** A session that was just ended: its id, whose it was, and the access-token hash it had (for the identity caches). */
export interface EndedSession {
  id: string;
  account_id: string | null;
  subject_sub: string | null;
  token_hash: string | null;
}

/** Whose device sessions: an account, or an external subject (issuer, email) without one. */
export type SessionOwner = { accountId: string } | { issuer: string; email: string };

/** The SQL condition (on oauth_access_tokens) and values that select one owner's rows, from `$1`. */
export function ownerClause(owner: SessionOwner): { where: string; values: string[] } {
  return 'accountId' in owner
    ? { where: 'account_id = $1', values: [owner.accountId] }
    : { where: 'account_id IS NULL AND subject_issuer = $1 AND subject_email = lower($2)', values: [owner.issuer, owner.email] };
}

/**
 * Until when a session lives: a refresh session until its refresh token lapses (the access
 * token is renewed within it), a session without one until its access token expires.
 */
export const SESSION_END = 'greatest(expires_at, refresh_expires_at)';

/**
 * Device sessions: rows of oauth_access_tokens, one per approved device (docs/tokens.md,
 * "Sessions and refresh tokens"). Ending one clears both token hashes in one statement, so
 * the access token and the refresh token stop together.
 */
export class SessionRepo {
  constructor(private readonly db: Database) {}

  async listLive(owner: SessionOwner, limit: number, offset: number): Promise<{ rows: SessionRow[]; total: number }> {
    const { where, values } = ownerClause(owner);
    return this.db.page<SessionRow>({
      columns: `id, client_id, device_label, created_at, last_used_at, last_refreshed_at, ${SESSION_END} AS expires_at`,
      from: `oauth_access_tokens WHERE ${where} AND revoked_at IS NULL AND ${SESSION_END} > now()`,
      orderBy: 'created_at DESC, id',
      values,
      limit,
      offset,
    });
  }

  /** The session whose access token or refresh token has this hash (RFC 7009 needs no hint: both are looked up). */
  endByTokenHash(hash: string): Promise<EndedSession[]> {
    return this.end('token_hash = $1 OR refresh_token_hash = $1', [hash]);
  }

  endById(id: string): Promise<EndedSession[]> {
    return this.end('id = $1', [id]);
  }

  endOwnedById(owner: SessionOwner, id: string): Promise<EndedSession[]> {
    const { where, values } = ownerClause(owner);
    return this.end(`${where} AND id = $${values.length + 1}`, [...values, id]);
  }

  endAllOf(owner: SessionOwner): Promise<EndedSession[]> {
    const { where, values } = ownerClause(owner);
    return this.end(where, values);
  }

  /**
   * OpenID Connect Back-Channel Logout 1.0 §2.5: with a `sid`, the sessions that IdP session
   * approved (and, with a `sub` too, that subject's sessions whose IdP session is unknown, kept
   * from before sids were stored); with only a `sub`, every session of that subject at the IdP.
   */
  endIdpSessions(issuer: string, who: { sub: string | null; sid: string | null }): Promise<EndedSession[]> {
    return this.end(
      `account_id IS NULL AND subject_issuer = $1 AND (
         ($3::text IS NOT NULL AND subject_sid = $3) OR ($2::text IS NOT NULL AND subject_sub = $2 AND ($3::text IS NULL OR subject_sid IS NULL)))`,
      [issuer, who.sub, who.sid],
    );
  }

  /**
   * Ends every live session matching `where` (a condition on oauth_access_tokens, with
   * `values` as $1…). The rows stay, with their ids, for audit; the pruner deletes them later.
   */
  private async end(where: string, values: unknown[]): Promise<EndedSession[]> {
    return this.db.query<EndedSession>(
      `UPDATE oauth_access_tokens t SET revoked_at = now(), token_hash = NULL, refresh_token_hash = NULL
         FROM (SELECT id, token_hash FROM oauth_access_tokens WHERE (${where}) AND revoked_at IS NULL FOR UPDATE) old
        WHERE t.id = old.id RETURNING t.id, t.account_id, t.subject_sub, old.token_hash`,
      values,
    );
  }
}
