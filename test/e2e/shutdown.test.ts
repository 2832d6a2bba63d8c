import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/auth/token-kinds.ts';
import { reportTiming } from '../helpers/load.ts';
import { freePort, PostgresProcess, RedisProcess, until } from '../helpers/processes.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Running {
  child: ChildProcess;
  base: string;
  log: () => string;
  /** Resolves with the exit code and how long after `since` it came. */
  exit: Promise<{ code: number | null; at: number }>;
}

/** `tessera-server start` against this test's own Postgres and Redis. */
async function startServer(env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-shutdown-'));
  dirs.push(dataDir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', PORT: String(port), DATA_DIR: dataDir, ...env },
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: Date.now() })));
  await until(async () => out.includes('Tessera is running') || child.exitCode !== null, 'the server to start', 60_000, 50);
  expect(out).toContain('Tessera is running');
  return { child, base: `http://127.0.0.1:${port}`, log: () => out, exit };
}

/** Sends the signal and waits (bounded) for the exit: a shutdown that hangs fails here, not on the test timeout. */
async function stop(r: Running, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; ms: number }> {
  const sent = Date.now();
  r.child.kill(signal);
  const hung = new Promise<null>((resolve) => setTimeout(() => resolve(null), 12_000).unref());
  const exited = await Promise.race([r.exit, hung]);
  if (!exited) {
    r.child.kill('SIGKILL');
    throw new Error(`no exit within 12 s of ${signal}; log:\n${r.log().slice(-2_000)}`);
  }
  return { code: exited.code, ms: exited.at - sent };
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
let pg: PostgresProcess;
let redis: RedisProcess;

beforeAll(async () => {
  pg = await PostgresProcess.create();
});
afterAll(async () => {
  await pg.close();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  if (pg.running === false) await pg.start();
  await redis?.close();
});

describe('shutdown whatever the dependencies are doing', () => {
  it('when Redis is down, then SIGTERM ends the process within seconds with status 0', async () => {
    redis = await RedisProcess.start();
    const r = await startServer({ DATABASE_URL: pg.url, REDIS_URL: redis.url });
    expect((await fetch(`${r.base}/openapi/v1/_health`)).status).toBe(200);
    await redis.stop('SIGKILL');
    expect((await fetch(`${r.base}/openapi/v1/_health`)).status).toBe(503);
    const { code, ms } = await stop(r);
    reportTiming('shutdown with Redis down', ms);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(r.log()).toContain('"msg":"stopped"');
  });

  it('when Postgres and Redis hang with a request in flight, then the drain deadline cuts it and the process exits 0', async () => {
    redis = await RedisProcess.start();
    const r = await startServer({ DATABASE_URL: pg.url, REDIS_URL: redis.url, SHUTDOWN_DRAIN_MS: '1000' });
    const probe = new Redis(redis.url);
    const scripts = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await probe.info('commandstats'))?.[1] ?? 0);
    const before = await scripts();
    pg.freeze();
    // A well-formed unknown token passes the rate limit (one script in Redis), then waits on the hung Postgres.
    const inFlight = fetch(`${r.base}/openapi/v1/me`, { headers: { Authorization: `Bearer ${generateToken('tsa_')}` } }).then(
      (res) => res.status,
      () => 'cut',
    );
    await until(async () => (await scripts()) > before, 'the request to pass the rate limit');
    probe.disconnect();
    redis.freeze();
    const { code, ms } = await stop(r);
    reportTiming('shutdown with Postgres and Redis hung, 1 s drain', ms);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(8_000);
    expect(await inFlight).toBe('cut');
    expect(r.log()).toContain('drain deadline');
    redis.thaw();
    pg.thaw();
  });
});
