import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/server/free-port.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/env.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Started {
  child: ChildProcess;
  output: () => string;
  stdout: () => string;
  exit: Promise<number | null>;
}

const clean = () => {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  return env;
};

/** `npm start` as a newcomer runs it: `tessera-server start` with no DATABASE_URL or REDIS_URL. */
function spawnStart(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { cwd: ROOT, env: { ...clean(), LOG_LEVEL: 'warn', ...env } });
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d) => ((out += d), (stdout += d)));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, stdout: () => stdout, exit };
}

async function start(env: Record<string, string>): Promise<Started> {
  const s = spawnStart(env);
  const deadline = Date.now() + 60_000;
  while (!s.output().includes('Tessera is running') && Date.now() < deadline && s.child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  expect(s.output()).toContain('Tessera is running');
  return s;
}

function admin(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', 'admin', ...args], { cwd: ROOT, env: { ...clean(), ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The postmaster of an embedded cluster, if one is running (its lock file names it). */
function postmasterPid(pgdata: string): number | null {
  const lock = path.join(pgdata, 'postmaster.pid');
  if (!existsSync(lock)) return null;
  const pid = Number(readFileSync(lock, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

const pgdataOf = (banner: string) => /\(embedded Postgres in (\S+)\)/.exec(banner)![1]!;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const isRoot = process.getuid?.() === 0;

describe('npm start with no environment', () => {
  it('when the first start finds its port taken, then it says so in one line, leaves no Postgres running, and the next start seeds, prints the password, serves health, spec and docs, stops cleanly on Ctrl-C, and reuses the data', async () => {
    // DATA_DIR inside a directory only its owner may enter, like a clone under /root (0700).
    const parent = mkdtempSync(path.join(tmpdir(), 'tessera-start-'));
    dirs.push(parent);
    const dataDir = path.join(parent, '.tessera');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { DATA_DIR: dataDir, PORT: String(port) };

    const squatter = createHttpServer().listen(port, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    const failed = spawnStart(env);
    expect(await failed.exit).toBe(1);
    squatter.close();
    expect(failed.output().trim().split('\n').at(-1)).toBe(
      `tessera-server: port ${port} on 127.0.0.1 is already in use. Stop whatever uses it, or start on another port, e.g. PORT=${port + 1} npm start`,
    );
    expect(failed.output()).not.toContain('password');
    const state = JSON.parse(readFileSync(path.join(dataDir, 'embedded-pg.json'), 'utf8')) as { pgdata?: string };
    expect(postmasterPid(state.pgdata ?? path.join(dataDir, 'pg'))).toBeNull();

    const first = await start(env);
    const pgdata = pgdataOf(first.stdout());
    if (isRoot) dirs.push(path.dirname(pgdata));
    // As root, the postgres user cannot enter the private parent: the cluster lives where it can.
    expect(pgdata.startsWith(isRoot ? '/var/lib/tessera/' : dataDir)).toBe(true);
    expect(first.stdout()).toMatch(/email: +demo@tessera\.local/);
    const password = /password: +(\S{12,})/.exec(first.stdout())![1]!;
    expect(first.output()).toContain(`/docs`);
    const health = await fetch(`${base}/openapi/v1/_health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, version: expect.any(String), checks: { database: 'ok', store: 'ok' }, store_deployment: 'in_process' });
    expect((await fetch(`${base}/openapi/v1/openapi.yaml`)).status).toBe(200);
    let docs = 0;
    for (let i = 0; i < 100 && docs !== 200; i++) {
      docs = (await fetch(`${base}/docs`)).status;
      if (docs !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(docs).toBe(200);
    const signin = (pw: string) =>
      fetch(`${base}/console/api/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'demo@tessera.local', password: pw }) });
    const signedIn = await signin(password);
    expect(signedIn.status).toBe(200);
    const session = () => fetch(`${base}/console/api/session`, { headers: { cookie: signedIn.headers.get('set-cookie')!.split(';')[0]! } });
    expect((await session()).status).toBe(200);

    // Admin commands work next to the running server, on its embedded database; logs go to stderr only.
    const created = await admin({ ...env, LOG_LEVEL: 'info' }, 'create-account', '--email', 'ops@example.test', '--name', 'Ops', '--json');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ email: 'ops@example.test', name: 'Ops' });
    expect(created.stdout.trim().split('\n')).toHaveLength(1);
    expect(created.stderr).toContain('DATABASE_URL is not set');
    const reset = await admin(env, 'reset-password', '--email', 'demo@tessera.local', '--json');
    expect(reset.code).toBe(0);
    const fresh = JSON.parse(reset.stdout) as { password: string };
    expect((await signin(password)).status).toBe(401);
    expect((await signin(fresh.password)).status).toBe(200);
    // The reset ended the browser session too, though the server's store is in-process and the command another process.
    expect((await session()).status).toBe(401);

    // A second server on the same data refuses, naming the directory and what to do.
    const second = spawnStart({ ...env, PORT: String(await freePort()) });
    expect(await second.exit).toBe(1);
    expect(second.output()).toContain(`tessera-server: the embedded database of DATA_DIR ${dataDir}`);
    expect(second.output()).toContain(`is in use by another Tessera server (pid ${first.child.pid}). Stop that server first`);
    expect((await fetch(`${base}/openapi/v1/_health`)).status).toBe(200);

    first.child.kill('SIGINT');
    expect(await first.exit).toBe(0);
    await expect(fetch(`${base}/openapi/v1/_health`)).rejects.toThrow();
    expect(postmasterPid(pgdata)).toBeNull();

    const again = await start(env);
    expect(again.output()).not.toContain('Demo workspace created');
    expect(again.output()).toContain('Demo account: demo@tessera.local');
    expect(again.output()).toContain('npm run server -- admin reset-password --email demo@tessera.local');
    expect((await signin(fresh.password)).status).toBe(200);
    // A server that dies hard leaves its Postgres running: the next start stops it and goes on.
    again.child.kill('SIGKILL');
    await again.exit;
    const orphan = postmasterPid(pgdata);
    expect(orphan).not.toBeNull();
    const last = await start(env);
    expect(postmasterPid(pgdata)).not.toBe(orphan);
    expect((await fetch(`${base}/openapi/v1/_health`)).status).toBe(200);
    last.child.kill('SIGTERM');
    expect(await last.exit).toBe(0);
    expect(postmasterPid(pgdata)).toBeNull();
  }, 120_000);

  it('when DATABASE_URL points at an empty external database, then it migrates but never seeds', async () => {
    const name = `tessera_noseed_${Date.now()}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-ext-'));
    dirs.push(dataDir);
    try {
      const s = await start({ DATA_DIR: dataDir, PORT: String(await freePort()), DATABASE_URL: url.toString() });
      expect(s.output()).not.toContain('Demo');
      const db = new pg.Client({ connectionString: url.toString() });
      await db.connect();
      expect((await db.query('SELECT count(*)::int AS n FROM accounts')).rows[0].n).toBe(0);
      await db.end();
      s.child.kill('SIGTERM');
      expect(await s.exit).toBe(0);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  it.each([
    ['PORT', 'eighty', 'tessera: invalid configuration: PORT: expected an integer'],
    ['PUBLIC_URL', 'localhost:8080', 'tessera: invalid configuration: PUBLIC_URL: expected an http:// or https:// URL, e.g. http://localhost:8080'],
  ])('when %s=%s, then it exits with one line naming the variable', async (name, value, line) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { cwd: ROOT, env: { ...process.env, [name]: value } });
    let err = '';
    let out = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => (out += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(err.trim()).toBe(line);
    expect(out).toBe('');
  });
});
