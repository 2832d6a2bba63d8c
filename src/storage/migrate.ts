import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Database } from './db.ts';

const DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
// Any constant works; it only has to be the same for every replica.
const LOCK_ID = 7_264_531;

export interface MigrateOptions {
  /**
   * Issuers this server trusts (SSO_OIDC_ISSUER, TRUSTED_JWT_ISSUERS), for migrations that
   * must tell issuers apart in stored data (006); they read `tessera.known_issuers` (JSON).
   */
  knownIssuers?: readonly string[];
}

/**
 * Applies `migrations/NNN_name.sql` in order, each in its own transaction, and
 * records them. Replicas starting together serialise on an advisory lock, so
 * running it again (or twice at once) is a no-op.
 */
export async function migrate(db: Database, opts: MigrateOptions = {}): Promise<string[]> {
  const files = (await readdir(DIR)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await db.tx(async (q) => {
    await q('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
    await q("SELECT set_config('tessera.known_issuers', $1, true)", [JSON.stringify(opts.knownIssuers ?? [])]);
    await q(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await q<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name));
    for (const file of files) {
      if (done.has(file)) continue;
      await q(await readFile(DIR + file, 'utf8'));
      await q('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
      applied.push(file);
    }
  });
  return applied;
}
