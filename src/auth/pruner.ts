import type { Logger } from 'pino';
import type { Database } from '../storage/db.ts';
import { SESSION_END } from '../storage/repos/sessions.ts';
import type { Store } from '../storage/store/index.ts';

/**
 * Deletes revoked and expired token rows older than the retention period, and
 * console sessions and device-flow decisions past their life. One replica at a
 * time, under a store lock; returns null when another holds it.
 */
export async function pruneTokens(
  db: Database,
  store: Store,
  retentionDays: number,
  log: Logger,
): Promise<{ tokens: number; apiKeys: number; consoleSessions: number; deviceGrants: number } | null> {
  return store.withLock('token-pruner', 10 * 60_000, async () => {
    const cutoff = [retentionDays];
    // A session lives until the later of its access and refresh expiries (SESSION_END); its spent refresh tokens go with it.
    const tokens = await db.query(
      `DELETE FROM oauth_access_tokens
        WHERE coalesce(revoked_at, ${SESSION_END}) < now() - make_interval(days => $1)
          AND (revoked_at IS NOT NULL OR ${SESSION_END} < now()) RETURNING id`,
      cutoff,
    );
    // A spent refresh token older than the retention is forgotten: presented again it is merely unknown.
    await db.query('DELETE FROM oauth_spent_refresh_tokens WHERE spent_at < now() - make_interval(days => $1)', cutoff);
    const apiKeys = await db.query(
      `DELETE FROM api_keys
        WHERE coalesce(revoked_at, expires_at) < now() - make_interval(days => $1) RETURNING id`,
      cutoff,
    );
    // A day's margin past expiry; a grant is kept as long as a token row, so a replayed code is still recognised.
    const consoleSessions = await db.query(`DELETE FROM console_sessions WHERE expires_at < now() - interval '1 day' RETURNING id`);
    const deviceGrants = await db.query(`DELETE FROM device_grants WHERE expires_at < now() - make_interval(days => $1) RETURNING code_hash`, cutoff);
    const result = { tokens: tokens.length, apiKeys: apiKeys.length, consoleSessions: consoleSessions.length, deviceGrants: deviceGrants.length };
    log.info({ ...result, retention_days: retentionDays }, 'pruned dead tokens');
    return result;
  });
}
