import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/env.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

/** `npm start` as a newcomer runs it: `tessera-server start` with no DATABASE_URL or REDIS_URL. */
async function start(env: Record<string, string>): Promise<Started> {
  const clean = { ...process.env };
  delete clean.DATABASE_URL;
  delete clean.REDIS_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { cwd: ROOT, env: { ...clean, LOG_LEVEL: 'warn', ...env } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('Tessera is running') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  expect(out).toContain('Tessera is running');
  return { child, output: () => out, exit };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('npm start with no environment', () => {
  it('when started on an empty data dir, then it seeds and prints demo credentials, serves health, spec and docs, stops cleanly on Ctrl-C, and reuses the data', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-start-'));
    dirs.push(dataDir);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;

    const first = await start({ DATA_DIR: dataDir, PORT: String(port) });
    expect(first.output()).toMatch(/email: +demo@tessera\.local/);
    expect(first.output()).toMatch(/password: +\S{12,}/);
    expect(first.output()).toContain(`/docs`);
    const health = await fetch(`${base}/openapi/v1/_health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, version: expect.any(String), checks: { database: 'ok', store: 'ok' } });
    expect((await fetch(`${base}/openapi/v1/openapi.yaml`)).status).toBe(200);
    let docs = 0;
    for (let i = 0; i < 100 && docs !== 200; i++) {
      docs = (await fetch(`${base}/docs`)).status;
      if (docs !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(docs).toBe(200);
    first.child.kill('SIGINT');
    expect(await first.exit).toBe(0);
    await expect(fetch(`${base}/openapi/v1/_health`)).rejects.toThrow();

    const second = await start({ DATA_DIR: dataDir, PORT: String(port) });
    expect(second.output()).not.toContain('Demo workspace created');
    expect(second.output()).toContain('Demo account: demo@tessera.local');
    expect((await fetch(`${base}/openapi/v1/_health`)).status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
  });

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

  it('when a setting is invalid, then it exits with one line naming the variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { cwd: ROOT, env: { ...process.env, PORT: 'eighty' } });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(err.trim()).toBe('tessera: invalid configuration: PORT: expected an integer');
  });
});
