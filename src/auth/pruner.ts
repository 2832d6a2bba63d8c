import type { Logger } from 'pino';
import type { Database } from '../storage/db.ts';
import type { Store } from '../storage/store/index.ts';

/**
 * Deletes revoked and expired token rows older than the retention period. One
 * replica at a time, under a store lock; returns null when another holds it.
 */
export async function pruneTokens(db: Database, store: Store, retentionDays: number, log: Logger): Promise<{ tokens: number; apiKeys: number } | null> {
  return store.withLock('token-pruner', 10 * 60_000, async () => {
    const cutoff = [retentionDays];
    const tokens = await db.query(
      `DELETE FROM oauth_access_tokens
        WHERE coalesce(revoked_at, expires_at) < now() - make_interval(days => $1)
          AND (revoked_at IS NOT NULL OR expires_at < now()) RETURNING id`,
      cutoff,
    );
    const apiKeys = await db.query(
      `DELETE FROM api_keys
        WHERE coalesce(revoked_at, expires_at) < now() - make_interval(days => $1) RETURNING id`,
      cutoff,
    );
    const result = { tokens: tokens.length, apiKeys: apiKeys.length };
    log.info({ ...result, retention_days: retentionDays }, 'pruned dead tokens');
    return result;
  });
}
