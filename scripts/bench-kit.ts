/**
 * What `npm run bench` and `npm run profile` share: child processes, a dedicated
 * Postgres database with a seeded account, app and token, a Redis of their own,
 * Tessera started as in production (compiled JS from dist/, built if stale), and the
 * per-process CPU time that tells how much work a request costs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../src/server/free-port.ts';
import { createApp as insertApp } from '../src/admin/apps-admin.ts';
import { generateToken, hashToken } from '../src/auth/token-kinds.ts';
import { Database } from '../src/storage/db.ts';
import { migrate } from '../src/storage/migrate.ts';
import { AccountRepo } from '../src/storage/repos/accounts.ts';

export const ROOT = path.resolve(import.meta.dirname, '..');
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const DB_NAME = 'tessera_bench';
export const SECRET_KEY = 'bench-secret-bench-secret-bench-secret-0123';

/** The bench's baseline servers, each a script compiled like Tessera (tsconfig.build.json lists them too). */
const BASELINES = ['bench-node', 'bench-fastify', 'bench-bare', 'bench-peer'] as const;
export type Baseline = (typeof BASELINES)[number];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

export { freePort };

/** Spawns a child and resolves once its output matches `ready`. */
export function start(cmd: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.length > 20_000) out = out.slice(-10_000);
      if (ready.test(out)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${out.slice(-2000)}`)));
  });
}

/** Stops a child started here and waits for it (a --cpu-prof child writes its profile on the way out). */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Process CPU time (user + system, every thread) in µs, from /proc: what a request costs, whatever the machine's load. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1e6) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Production runs dist/ (and so do the bench's baseline servers); build it when it is missing or older than the sources. */
export function ensureBuilt(): void {
  const main = path.join(ROOT, 'dist/src/main.js');
  let built = 0;
  try {
    built = statSync(main).mtimeMs;
  } catch {
    /* not built yet */
  }
  const files = ['openapi.yaml', ...BASELINES.map((b) => `scripts/${b}.ts`)].map((f) => statSync(path.join(ROOT, f)).mtimeMs);
  const sources = Math.max(newest(path.join(ROOT, 'src')), ...files);
  if (built >= sources) return;
  console.error('bench: building dist/ (npm run build) …');
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error('npm run build failed');
  // tsc leaves files it did not need to change alone: mark the build as newer than the sources.
  const now = new Date();
  utimesSync(main, now, now);
}

/** `tessera_bench` next to DATABASE_URL's database: created once, migrated, never the caller's own data. */
export async function benchDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB_NAME]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DB_NAME}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DB_NAME}`;
  return url.toString();
}

export interface Seed {
  dbUrl: string;
  token: string;
  appId: string;
}

/** An account in a workspace, a chat app on the echo provider, and a `tsa_` token for it. */
export async function seed(): Promise<Seed> {
  const dbUrl = await benchDatabase();
  const db = new Database(dbUrl);
  await migrate(db);
  const accounts = new AccountRepo(db);
  const account = await accounts.create(`bench-${Date.now()}@example.test`, 'Bench User', null);
  const ws = await accounts.createWorkspace('Bench');
  await accounts.addMember(account.id, ws.id, 'owner');
  const app = await insertApp(db, { workspaceId: ws.id, name: 'Bench app', mode: 'chat', config: { model: { provider: 'echo', name: 'e' } } });
  const token = generateToken('tsa_');
  await db.query(
    `INSERT INTO oauth_access_tokens (token_hash, prefix, subject_email, subject_issuer, account_id, client_id, device_label, expires_at)
     VALUES ($1, 'tsa_', $2, 'tessera:account', $3, 'bench', 'bench', now() + interval '1 day')`,
    [hashToken(token), account.email, account.id],
  );
  await db.close();
  return { dbUrl, token, appId: app.id };
}

/** `n` more tokens for the seeded account's twins: one account, workspace, app and token each. */
export async function tokens(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await seed()).token);
  return out;
}

/** A redis-server of this run only (so counts are this run's), without persistence. */
export async function startRedis(): Promise<number> {
  const port = await freePort();
  await start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, /Ready to accept/);
  return port;
}

/** The pid of the redis-server on `port` (its CPU time is reported per request). */
export function redisPid(port: number): number {
  return Number(spawnSync('redis-cli', ['-p', String(port), 'info', 'server'], { encoding: 'utf8' }).stdout.match(/process_id:(\d+)/)![1]);
}

export interface TesseraOptions {
  dbUrl: string;
  redisPort: number;
  /** `dist`: compiled JS, as production runs it; `tsx`: the TypeScript sources through the tsx loader. */
  loader?: 'dist' | 'tsx';
  /** Another checkout to run (its own `npm run build`), for A/B comparisons; this one by default. */
  dir?: string;
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** A command node runs under (`valgrind --tool=callgrind …`); its pid is node's. */
  wrap?: string[];
}

/** node, or node under `wrap`. */
function nodeUnder(wrap: string[] | undefined, args: string[]): [string, string[]] {
  return wrap?.length ? [wrap[0]!, [...wrap.slice(1), process.execPath, ...args]] : [process.execPath, args];
}

/** Tessera as in production: NODE_ENV=production, LOG_LEVEL=warn, a rate limit no bench reaches. */
export async function startTessera(o: TesseraOptions): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const entry = o.loader === 'tsx' ? ['--import', 'tsx', 'src/main.ts'] : [path.join(o.dir ?? ROOT, 'dist/src/main.js')];
  const child = await start(...nodeUnder(o.wrap, [...(o.nodeArgs ?? []), ...entry, 'start']), {
    PORT: String(port),
    DATABASE_URL: o.dbUrl,
    REDIS_URL: `redis://127.0.0.1:${o.redisPort}`,
    NODE_ENV: 'production',
    SECRET_KEY,
    OPENAPI_RATE_LIMIT_PER_TOKEN: '1000000',
    LOG_LEVEL: 'warn',
    // The stale-run sweeper's minutely query is no request's, but the counts would charge it to one.
    RUN_SWEEP_INTERVAL_MS: String(86_400_000),
    ...o.env,
  }, /Tessera is running/);
  return { child, base: `http://127.0.0.1:${port}` };
}

/** One of the bench's baseline servers, in a process of its own. */
export function startBaseline(name: Baseline, env: Record<string, string>, nodeArgs: string[] = [], wrap?: string[]): Promise<ChildProcess> {
  return start(...nodeUnder(wrap, [...nodeArgs, `dist/scripts/${name}.js`]), env, /ready/);
}

/** The baselines by the names npm run profile and scripts/instructions.ts take: the script, whether it uses Redis, its /me. */
export const BASELINE_TARGETS: Record<string, { script: Baseline; redis: boolean; path: string }> = {
  node: { script: 'bench-node', redis: false, path: '/me' },
  floor: { script: 'bench-node', redis: true, path: '/me' },
  fastify: { script: 'bench-fastify', redis: true, path: '/me' },
  bare: { script: 'bench-bare', redis: false, path: '/bare' },
  peer: { script: 'bench-peer', redis: true, path: '/me' },
};

/** A baseline answering `body` (/me's) to `token`, on the run's Redis when it uses one; the URL it is loaded at. */
export async function startBaselineTarget(
  name: string,
  o: { body: string; token: string; redisPort: number; env?: Record<string, string>; nodeArgs?: string[]; wrap?: string[] },
): Promise<{ child: ChildProcess; url: string }> {
  const target = BASELINE_TARGETS[name];
  if (!target) throw new Error(`no baseline named ${name}: one of ${Object.keys(BASELINE_TARGETS).join(', ')}`);
  const port = await freePort();
  const redis: Record<string, string> = target.redis ? { REDIS_URL: `redis://127.0.0.1:${o.redisPort}` } : {};
  const env = { PORT: String(port), BENCH_BODY: o.body, BENCH_TOKEN: o.token, ...redis, ...o.env };
  const child = await startBaseline(target.script, env, o.nodeArgs, o.wrap);
  return { child, url: `http://127.0.0.1:${port}${target.path}` };
}
