import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

export interface RunAs {
  uid: number;
  gid: number;
}

/**
 * Where a root start keeps what the `postgres` user must reach when the project
 * sits in a directory other users cannot enter (a clone under /root is 0700):
 * a copy of the Postgres binaries, and the cluster's data.
 */
export const SHARED_BASE = '/var/lib/tessera';

export function exec(cmd: string, args: string[], ids?: RunAs): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...ids, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${path.basename(cmd)} failed: ${lastLines(String(stderr)) || err.message}`)) : resolve(stdout),
    );
  });
}

export function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' ').trim();
}

/** Postgres refuses to run as root: as root it runs as the `postgres` system user (created if missing). */
export async function postgresUser(): Promise<RunAs> {
  const id = async (flag: string) => Number((await exec('id', [flag, 'postgres'])).trim());
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    await exec('groupadd', ['-f', 'postgres']);
    await exec('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']);
    return { uid: await id('-u'), gid: await id('-g') };
  }
}

/** True when `ids` can search (directory) or execute (file) `target`: every parent must let it through. */
export async function canReach(target: string, ids: RunAs): Promise<boolean> {
  return exec('test', ['-x', target], ids).then(
    () => true,
    () => false,
  );
}

/**
 * The binaries' folder (`…/native`, holding bin/, lib/, share/) as the postgres user
 * can reach it: the package's own when it can, else a copy under SHARED_BASE made
 * once per binaries version (copied aside, then renamed into place, so two starts
 * racing never see half a copy).
 */
export async function reachableBinaries(nativeDir: string, version: string, ids: RunAs, log: Logger): Promise<string> {
  if (await canReach(path.join(nativeDir, 'bin', 'postgres'), ids)) return nativeDir;
  const target = path.join(SHARED_BASE, `postgres-${version}`);
  if (existsSync(path.join(target, 'bin', 'postgres'))) return target;
  log.info({ from: nativeDir, to: target }, 'the postgres user cannot reach the Postgres binaries here; copying them');
  await mkdir(SHARED_BASE, { recursive: true, mode: 0o755 });
  await chmod(SHARED_BASE, 0o755);
  const tmp = await mkdtemp(path.join(SHARED_BASE, '.postgres-'));
  try {
    await cp(nativeDir, tmp, { recursive: true, verbatimSymlinks: true });
    await exec('chmod', ['-R', 'a+rX', tmp]);
    await rename(tmp, target).catch((err: NodeJS.ErrnoException) => {
      // Another start finished the same copy first.
      if (!existsSync(path.join(target, 'bin', 'postgres'))) throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return target;
}

/** A fresh data folder under SHARED_BASE for a cluster whose DATA_DIR the postgres user cannot enter. */
export async function sharedDataDir(): Promise<string> {
  await mkdir(SHARED_BASE, { recursive: true, mode: 0o755 });
  await chmod(SHARED_BASE, 0o755);
  const parent = await mkdtemp(path.join(SHARED_BASE, 'data-'));
  await chmod(parent, 0o711);
  return path.join(parent, 'pg');
}
