import type { TxQuery } from '../db.ts';

/** A live session found by its current refresh token, locked for the rest of the transaction. */
export interface LockedSession {
  id: string;
  prefix: 'tsa_' | 'tse_';
  client_id: string;
  device_label: string;
  account_id: string | null;
  subject_sub: string | null;
  subject_issuer: string;
  /** The key its tokens are bound to (DPoP), or null. */
  dpop_jkt: string | null;
  /** The access token it has now (published for invalidation once it is replaced). */
  token_hash: string | null;
  /** The refresh token lapsed (idle) or the session reached its absolute end. */
  expired: boolean;
  disabled: boolean;
}

/** A refresh token that was already exchanged for new ones. */
export interface SpentRefreshToken {
  session_id: string;
  /** Spent less than the grace window ago: a racing or retried duplicate, not theft. */
  in_grace: boolean;
  /** Whether its session is still live (a reuse then ends it). */
  session_live: boolean;
  /** The key its session's tokens are bound to (DPoP), or null. */
  dpop_jkt: string | null;
}

/**
 * Rotation of refresh tokens (RFC 6749 §6, RFC 9700 §4.14.2), inside one transaction of
 * the caller: the session row is locked by its refresh token's hash, so two refreshes of one
 * token on any replicas queue on that lock, and the second finds the token spent.
 */
export class RefreshTokenRepo {
  async lockLive(q: TxQuery, hash: string): Promise<LockedSession | undefined> {
    const [row] = await q<LockedSession>(
      `SELECT t.id, t.prefix, t.client_id, t.device_label, t.account_id, t.subject_sub, t.subject_issuer, t.token_hash, t.dpop_jkt,
              t.refresh_expires_at <= now() OR t.session_expires_at <= now() AS expired,
              coalesce(a.disabled_at IS NOT NULL, false) AS disabled
         FROM oauth_access_tokens t LEFT JOIN accounts a ON a.id = t.account_id
        WHERE t.refresh_token_hash = $1 AND t.revoked_at IS NULL
        FOR UPDATE OF t`,
      [hash],
    );
    return row;
  }

  async findSpent(q: TxQuery, hash: string, graceSeconds: number): Promise<SpentRefreshToken | undefined> {
    const [row] = await q<SpentRefreshToken>(
      `SELECT s.session_id, s.spent_at > now() - make_interval(secs => $2::float8) AS in_grace, t.revoked_at IS NULL AS session_live, t.dpop_jkt
         FROM oauth_spent_refresh_tokens s JOIN oauth_access_tokens t ON t.id = s.session_id
        WHERE s.token_hash = $1`,
      [hash, graceSeconds],
    );
    return row;
  }

  /**
   * New access and refresh tokens for the locked session; the presented refresh token is
   * recorded as spent. Both expiries are renewed from now, neither past the session's end.
   * `dpopJkt`: the key the new tokens are bound to (a bound session's own, or the key of the
   * proof that came with the refresh of a bearer session), or null.
   */
  async rotate(
    q: TxQuery,
    id: string,
    spentHash: string,
    next: { accessHash: string; refreshHash: string; accessSeconds: number; idleDays: number; dpopJkt: string | null },
  ): Promise<{ expires_at: Date; refresh_expires_at: Date }> {
    const [row] = await q<{ expires_at: Date; refresh_expires_at: Date }>(
      `UPDATE oauth_access_tokens
          SET token_hash = $2, refresh_token_hash = $3, last_refreshed_at = now(), dpop_jkt = $6,
              expires_at = least(now() + make_interval(secs => $4::float8), session_expires_at),
              refresh_expires_at = least(now() + make_interval(days => $5::int), session_expires_at)
        WHERE id = $1 RETURNING expires_at, refresh_expires_at`,
      [id, next.accessHash, next.refreshHash, next.accessSeconds, next.idleDays, next.dpopJkt],
    );
    await q('INSERT INTO oauth_spent_refresh_tokens (token_hash, session_id) VALUES ($1, $2)', [spentHash, id]);
    return row!;
  }
}
