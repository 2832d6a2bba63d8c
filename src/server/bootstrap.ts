import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { Database } from '../storage/db.ts';
import { startEmbeddedPostgres } from '../storage/embedded.ts';
import { migrate } from '../storage/migrate.ts';
import { settleWithin } from '../time-limit.ts';

export interface OpenedDatabase {
  db: Database;
  /** The embedded cluster's data folder, or null for an external DATABASE_URL. */
  embedded: string | null;
  stop(): Promise<void>;
}

/**
 * External Postgres from DATABASE_URL, else the embedded one in DATA_DIR; migrated
 * either way. `attach` (admin commands) uses an embedded cluster that a running
 * server already runs; without it (a start) such a cluster is an error.
 */
export async function openDatabase(config: Config, log: Logger, opts: { attach: boolean } = { attach: false }): Promise<OpenedDatabase> {
  let url = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | null = null;
  let embedded: string | null = null;
  if (!url) {
    log.info({ dir: path.resolve(config.dataDir) }, 'DATABASE_URL is not set: using the embedded Postgres');
    const pg = await startEmbeddedPostgres(config.dataDir, log, opts);
    url = pg.url;
    stopEmbedded = pg.stop;
    embedded = pg.pgdata;
  }
  const db = new Database(url);
  try {
    const knownIssuers = [...(config.sso ? [config.sso.issuer] : []), ...config.trustedJwtIssuers.map((t) => t.issuer)];
    const applied = await migrate(db, { knownIssuers });
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  } catch (err) {
    await db.close();
    await stopEmbedded?.();
    throw err;
  }
  return {
    db,
    embedded,
    async stop() {
      // A pool waiting on a hung database must not keep the embedded one from stopping.
      await settleWithin(db.close(), 1_500);
      await stopEmbedded?.();
    },
  };
}

/** SECRET_KEY, or outside production one generated once into DATA_DIR and reused. */
export async function resolveSecretKey(config: Config): Promise<string> {
  if (config.secretKey) return config.secretKey;
  const file = path.join(config.dataDir, 'secret_key');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(48).toString('base64url');
  await writeFile(file, key, { mode: 0o600 });
  return key;
}
