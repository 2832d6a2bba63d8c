/**
 * npm run bench — the bearer path against a bare express route, side by side:
 *  (a) bare express 5 route with /me's JSON body, (b) GET /openapi/v1/me, (c) GET /apps/{id}/info,
 *  (d) GET /openapi/v1/me with a warm federated JWT (RS256, enterprise edition).
 * Starts its own Redis (so counts are this run's only) and uses a dedicated Postgres
 * database, runs Tessera in a child process as in production, then counts per warm
 * request, over COUNT_REQUESTS sequential requests: Redis round trips (commands sent
 * by clients, seen with MONITOR), Redis commands executed including those inside
 * scripts (INFO commandstats), and Postgres transactions (pg_stat_database).
 * Finally (b) and (d) run in BENCH_ROUNDS interleaved rounds, alternating which goes
 * first, and the median of the per-round ratios d/b is reported: on a shared, noisy
 * machine a ratio of neighbouring runs is steadier than either figure alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { createApp as insertApp } from '../src/admin/apps-admin.ts';
import { generateToken, hashToken } from '../src/auth/token-kinds.ts';
import { Database } from '../src/storage/db.ts';
import { migrate } from '../src/storage/migrate.ts';
import { AccountRepo } from '../src/storage/repos/accounts.ts';

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DB_NAME = 'tessera_bench';
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const COUNT_REQUESTS = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 5);
const JWT_ISSUER = 'https://idp.bench.example';
const JWT_AUDIENCE = 'https://tessera.bench.example';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function start(cmd: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${out.slice(-2000)}`)));
  });
}

async function benchDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB_NAME]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DB_NAME}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DB_NAME}`;
  return url.toString();
}

async function pgStatements(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  // Stats are flushed by backends at most once a second; ask after they settle.
  const r = await c.query('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [DB_NAME]);
  await c.end();
  return Number(r.rows[0].n) - 1; // minus this query's own transaction
}

async function redisCommands(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (!['info', 'ping'].includes(m[1]!)) total += Number(m[2]);
  return total;
}

interface Result {
  title: string;
  rps: number;
  p99: number;
  total: number;
  roundTrips?: number;
  commands?: number;
  pgQueries?: number;
}

/** Per-request counts over sequential warm requests; counted by the servers, not estimated. */
async function count(dbUrl: string, redis: Redis, url: string, headers: Record<string, string>) {
  for (let i = 0; i < 5; i++) await fetch(url, { headers }); // warm
  await sleep(1_500);
  const pg0 = await pgStatements(dbUrl);
  const c0 = await redisCommands(redis);
  const monitor = await redis.monitor();
  let roundTrips = 0;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua' && !['info', 'ping', 'monitor'].includes(String(args[0]).toLowerCase())) roundTrips++;
  });
  for (let i = 0; i < COUNT_REQUESTS; i++) {
    const res = await fetch(url, { headers });
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    await res.arrayBuffer();
  }
  await sleep(300);
  monitor.disconnect();
  const c1 = await redisCommands(redis);
  await sleep(1_500);
  const pg1 = await pgStatements(dbUrl);
  return { roundTrips: roundTrips / COUNT_REQUESTS, commands: (c1 - c0) / COUNT_REQUESTS, pgQueries: (pg1 - pg0 - 1) / COUNT_REQUESTS };
}

async function run(title: string, url: string, headers: Record<string, string> = {}, seconds = DURATION, warmUp = true) {
  if (warmUp) await autocannon({ url, connections: CONNECTIONS, duration: 1, headers });
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${title}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { title, rps: r.requests.average, p99: r.latency.p99, total: r.requests.total } as Result;
}

/** A trusted issuer with inline keys (no JWKS endpoint to measure) and one federated token of it. */
async function jwtIssuer(): Promise<{ issuers: string; token: string }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
  const issuers = JSON.stringify([
    { issuer: JWT_ISSUER, kind: 'federated', jwks: { keys: [jwk] }, audience: JWT_AUDIENCE, allowed_scopes: ['apps:run', 'apps:read:permitted'] },
  ]);
  // Shaped like an IdP access token: a name, groups, the usual registered claims.
  const token = await new SignJWT({
    email: 'bench.user@bench.example',
    email_verified: true,
    name: 'Bench User',
    scope: 'openid email profile apps:run apps:read:permitted',
    groups: ['engineering', 'bench'],
  })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench-1', typ: 'at+jwt' })
    .setIssuer(JWT_ISSUER)
    .setAudience(JWT_AUDIENCE)
    .setSubject('00u1bench0user0id')
    .setJti(`bench-${Date.now()}`)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);
  return { issuers, token };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main() {
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

  const redisPort = await freePort();
  await start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, /Ready to accept/);
  const redis = new Redis({ port: redisPort, host: '127.0.0.1' });

  const jwt = await jwtIssuer();
  const port = await freePort();
  await start(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
    PORT: String(port),
    DATABASE_URL: dbUrl,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    NODE_ENV: 'production',
    SECRET_KEY: 'bench-secret-bench-secret-bench-secret-0123',
    OPENAPI_RATE_LIMIT_PER_TOKEN: '1000000',
    LOG_LEVEL: 'warn',
    EDITION: 'enterprise',
    TRUSTED_JWT_ISSUERS: jwt.issuers,
  }, /Tessera is running/);
  const base = `http://127.0.0.1:${port}`;
  const auth = { Authorization: `Bearer ${token}` };
  const jwtAuth = { Authorization: `Bearer ${jwt.token}` };
  const loadBefore = loadavg();
  const meBody = await (await fetch(`${base}/openapi/v1/me`, { headers: auth })).text();

  const barePort = await freePort();
  await start(process.execPath, ['--import', 'tsx', 'scripts/bench-bare.ts'], { PORT: String(barePort), BENCH_BODY: meBody }, /ready/);

  const a = await run('(a) bare express route', `http://127.0.0.1:${barePort}/bare`);
  const results: Result[] = [a];
  for (const [title, path, headers] of [
    ['(b) GET /openapi/v1/me', '/openapi/v1/me', auth],
    ['(c) GET /apps/{id}/info', `/openapi/v1/apps/${app.id}/info`, auth],
    ['(d) GET /me, JWT (warm)', '/openapi/v1/me', jwtAuth],
  ] as const) {
    const r = await run(title, base + path, headers);
    results.push({ ...r, ...(await count(dbUrl, redis, base + path, headers)) });
  }

  // Interleaved rounds of (b) and (d): each ratio compares neighbours in time.
  const rounds: { opaque: number; jwt: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 === 0 ? (['opaque', 'jwt'] as const) : (['jwt', 'opaque'] as const);
    const round = { opaque: 0, jwt: 0 };
    for (const which of order) {
      const r = await run(which, `${base}/openapi/v1/me`, which === 'jwt' ? jwtAuth : auth, ROUND_SECONDS, false);
      round[which] = r.rps;
    }
    rounds.push(round);
  }
  redis.disconnect();
  const loadAfter = loadavg();

  console.log(`\nTessera bench: ${CONNECTIONS} connections, ${DURATION}s per target, Node ${process.version}\n`);
  console.log('target                       req/s   p99 ms   redis round trips/req   redis cmds run/req   pg queries/req');
  const fmt = (v: number | undefined, w: number) => (v === undefined ? '-' : v.toFixed(2)).padStart(w);
  for (const r of results) {
    console.log(
      `${r.title.padEnd(26)} ${r.rps.toFixed(0).padStart(7)} ${String(r.p99).padStart(8)} ${fmt(r.roundTrips, 23)} ${fmt(r.commands, 20)} ${fmt(r.pgQueries, 16)}`,
    );
  }
  console.log('(redis cmds run counts the commands inside the rate-limit script too; it is one round trip)');
  console.log(`\nratio b/a = ${(results[1]!.rps / a.rps).toFixed(2)} (target >= 0.6)`);
  console.log(`ratio c/a = ${(results[2]!.rps / a.rps).toFixed(2)}`);
  console.log(`ratio d/b = ${(results[3]!.rps / results[1]!.rps).toFixed(2)} (single run)`);

  console.log(`\nJWT vs opaque /me, ${ROUNDS} interleaved rounds of ${ROUND_SECONDS}s each (req/s):`);
  console.log('round   opaque      jwt   jwt/opaque');
  rounds.forEach((r, i) => console.log(`${String(i + 1).padStart(5)} ${r.opaque.toFixed(0).padStart(8)} ${r.jwt.toFixed(0).padStart(8)} ${(r.jwt / r.opaque).toFixed(2).padStart(12)}`));
  console.log(`median jwt/opaque = ${median(rounds.map((r) => r.jwt / r.opaque)).toFixed(2)} (target >= 0.9)`);
  console.log(`machine: ${cpus().length} CPUs, load average (1/5/15 min) ${loadBefore.map((l) => l.toFixed(2)).join('/')} before, ${loadAfter.map((l) => l.toFixed(2)).join('/')} after`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
