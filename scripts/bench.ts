/**
 * npm run bench — the warm bearer path against bare routes and against peers, side by side
 * (docs/operations.md, docs/performance.md):
 *  (n) raw node:http answering /me's JSON body, no work: the ceiling (scripts/bench-node.ts),
 *  (n1) raw node:http plus one Redis script (cached identity and sliding window): the
 *      one-round-trip floor (scripts/bench-node.ts with REDIS_URL),
 *  (fy) the fastify peer: fastify 5, @fastify/rate-limit on Redis, a Redis identity GET,
 *      two round trips (scripts/bench-fastify.ts),
 *  (a) bare express 5 route with /me's JSON body (scripts/bench-bare.ts),
 *  (p) the Dify peer: Dify's hot path on express 5, a cache GET plus a sliding-window
 *      script, two Redis round trips (scripts/bench-peer.ts),
 *  (b) GET /openapi/v1/me, (c) GET /apps/{id}/info, (d) GET /me with a warm federated JWT.
 * Tessera runs as in production: compiled JS from dist/ (built when stale), NODE_ENV=production,
 * LOG_LEVEL=warn; so does every baseline, each in its own process, all on one Redis. BENCH_TSX=1 adds (b·tsx), /me served through the tsx loader.
 * BENCH_BARE_SERVER=1 adds (a·s), the bare route on the HTTP server Tessera builds (requests
 * made with express's prototypes, docs/performance.md) instead of express's `app.listen`.
 *
 * 1. Counts per warm request, over COUNT_REQUESTS sequential requests: Redis round trips
 *    (commands sent by clients, seen with MONITOR), Redis commands executed including those
 *    inside scripts (INFO commandstats), Postgres transactions (pg_stat_database).
 * 2. BENCH_ROUNDS interleaved rounds, every target once per round (after a second of
 *    unmeasured load), the order rotating and reversing: each ratio is taken within a round
 *    (neighbours in time) and the median over rounds is reported, so one noisy round does not decide. Per target also the server's CPU per
 *    request (process CPU time / requests, every thread) and Redis's.
 * 3. Streaming: time to the first SSE event of a chat run on the echo provider, against a
 *    bare server that calls the same provider and streams (STREAM_REQUESTS sequential runs each).
 * `npm run bench -- cluster` and `npm run bench -- observability` compare a pair of Tessera
 * processes instead (scripts/bench-cluster.ts, scripts/bench-observability.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { request, Agent } from 'node:http';
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { benchCluster } from './bench-cluster.ts';
import { benchObservability } from './bench-observability.ts';
import { benchDpop } from './bench-dpop.ts';
import { cpuMicros, DB_NAME, ensureBuilt, median, seed, sleep, startBaselineTarget, startRedis, startTessera } from './bench-kit.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const COUNT_REQUESTS = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 5);
const WARM_SECONDS = 1;
const STREAM_REQUESTS = Number(process.env.STREAM_REQUESTS ?? 60);
const WITH_TSX = process.env.BENCH_TSX === '1';
const WITH_BARE_SERVER = process.env.BENCH_BARE_SERVER === '1';
const JWT_ISSUER = 'https://idp.bench.example';
const JWT_AUDIENCE = 'https://tessera.bench.example';

async function pgTransactions(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  // Stats are flushed by backends at most once a second; ask after they settle.
  const r = await c.query('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [DB_NAME]);
  await c.end();
  return Number(r.rows[0].n);
}
/** What one pgTransactions call adds to the count by the time of the next: its backend's start-up transaction and its query. */
const PROBE_TRANSACTIONS = 2;

async function redisCommands(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (!['info', 'ping'].includes(m[1]!)) total += Number(m[2]);
  return total;
}

interface Counts {
  roundTrips: number;
  commands: number;
  pgQueries: number;
}

/** Per-request counts over sequential warm requests; counted by the servers, not estimated. */
async function count(dbUrl: string, redis: Redis, url: string, headers: Record<string, string>): Promise<Counts> {
  for (let i = 0; i < 5; i++) await (await fetch(url, { headers })).arrayBuffer(); // warm
  await sleep(1_100);
  const pg0 = await pgTransactions(dbUrl);
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
  await sleep(1_100);
  const pg1 = await pgTransactions(dbUrl);
  return { roundTrips: roundTrips / COUNT_REQUESTS, commands: (c1 - c0) / COUNT_REQUESTS, pgQueries: (pg1 - pg0 - PROBE_TRANSACTIONS) / COUNT_REQUESTS };
}

interface Target {
  key: string;
  title: string;
  url: string;
  headers: Record<string, string>;
  /** The process that serves it, whose CPU time is read. */
  pid: number;
  /** Whether its Redis round trips and Postgres queries per request are counted (those that use Redis). */
  counted?: boolean;
  counts?: Counts;
}
interface Sample {
  rps: number;
  p99: number;
  cpuPerReq: number;
  redisPerReq: number;
}

async function load(t: Target, redisPid: number, seconds: number): Promise<Sample> {
  const cpu0 = cpuMicros(t.pid);
  const redis0 = cpuMicros(redisPid);
  const r = await autocannon({ url: t.url, connections: CONNECTIONS, duration: seconds, headers: t.headers });
  const cpu = cpuMicros(t.pid) - cpu0;
  const redisCpu = cpuMicros(redisPid) - redis0;
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${t.title}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  const n = r.requests.total;
  return { rps: r.requests.average, p99: r.latency.p99, cpuPerReq: cpu / n, redisPerReq: redisCpu / n };
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

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** ms from sending a streaming run until its first `data:` event arrives (headers alone do not count). */
function firstEventMs(url: string, headers: Record<string, string>, body: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first = 0;
    let text = '';
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (first) return;
        text += chunk;
        if (text.includes('data: ')) first = Number(process.hrtime.bigint() - t0) / 1e6;
      });
      res.on('end', () => (first ? resolve(first) : reject(new Error(`${url}: no event`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  ensureBuilt();
  const { dbUrl, token, appId } = await seed();
  const redisPort = await startRedis();
  const redis = new Redis({ port: redisPort, host: '127.0.0.1' });
  const redisPid = Number((await redis.info('server')).match(/process_id:(\d+)/)![1]);

  const jwt = await jwtIssuer();
  const enterprise = { EDITION: 'enterprise', TRUSTED_JWT_ISSUERS: jwt.issuers };
  const tessera = await startTessera({ dbUrl, redisPort, env: enterprise });
  const base = tessera.base;
  const auth = { Authorization: `Bearer ${token}` };
  const jwtAuth = { Authorization: `Bearer ${jwt.token}` };
  const meBody = await (await fetch(`${base}/openapi/v1/me`, { headers: auth })).text();

  const baseline = async (name: string, env?: Record<string, string>) => {
    const { child, url } = await startBaselineTarget(name, { body: meBody, token, redisPort, env });
    return { url, pid: child.pid! };
  };
  const ceiling = await baseline('node');
  const floor = await baseline('floor');
  const fastify = await baseline('fastify');
  const bare = await baseline('bare');
  const peer = await baseline('peer');
  const bareServer = WITH_BARE_SERVER ? await baseline('bare', { BENCH_SERVER: 'tessera' }) : null;
  let tsxServer: { child: ChildProcess; base: string } | null = null;
  if (WITH_TSX) tsxServer = await startTessera({ dbUrl, redisPort, loader: 'tsx', env: enterprise });
  const loadBefore = loadavg();

  const targets: Target[] = [
    { key: 'n', title: '(n) raw node:http ceiling', url: ceiling.url, headers: auth, pid: ceiling.pid },
    { key: 'n1', title: '(n1) node:http + 1 script', url: floor.url, headers: auth, pid: floor.pid, counted: true },
    { key: 'fy', title: '(fy) fastify peer', url: fastify.url, headers: auth, pid: fastify.pid, counted: true },
    { key: 'a', title: '(a) bare express route', url: bare.url, headers: {}, pid: bare.pid },
    { key: 'p', title: '(p) peer: Dify pattern', url: peer.url, headers: auth, pid: peer.pid, counted: true },
    { key: 'b', title: '(b) GET /openapi/v1/me', url: `${base}/openapi/v1/me`, headers: auth, pid: tessera.child.pid!, counted: true },
    { key: 'c', title: '(c) GET /apps/{id}/info', url: `${base}/openapi/v1/apps/${appId}/info`, headers: auth, pid: tessera.child.pid!, counted: true },
    { key: 'd', title: '(d) GET /me, JWT (warm)', url: `${base}/openapi/v1/me`, headers: jwtAuth, pid: tessera.child.pid!, counted: true },
  ];
  if (bareServer) targets.push({ key: 'a·s', title: "(a·s) bare, Tessera's server", url: bareServer.url, headers: {}, pid: bareServer.pid });
  if (tsxServer) targets.push({ key: 'b·tsx', title: '(b·tsx) /me, tsx loader', url: `${tsxServer.base}/openapi/v1/me`, headers: auth, pid: tsxServer.child.pid!, counted: true });

  // Warm every server (JIT, caches, connections) before anything is measured, then let the
  // first use's last_used_at write go out (a timer, every 5 s), so the counts see requests only.
  for (const t of targets) await autocannon({ url: t.url, connections: CONNECTIONS, duration: 2, headers: t.headers });
  await sleep(5_500);
  // Tessera's targets first: a token's last_used_at is written at most once a minute, and the
  // write after the first use must not fall into the window a count watches.
  const counted = targets.filter((t) => t.counted);
  for (const t of [...counted.filter((t) => t.pid === tessera.child.pid), ...counted.filter((t) => t.pid !== tessera.child.pid)]) {
    t.counts = await count(dbUrl, redis, t.url, t.headers);
  }

  const rounds: Record<string, Sample>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const round: Record<string, Sample> = {};
    // Rotate the order, and reverse it every other round, so that no target is always first
    // or always follows the same one.
    const order = targets.map((_, j) => targets[(i + j) % targets.length]!);
    if (i % 2 === 1) order.reverse();
    for (const t of order) {
      // A second of load first, not measured: a server that idled while the others ran starts warm.
      await autocannon({ url: t.url, connections: CONNECTIONS, duration: WARM_SECONDS, headers: t.headers });
      round[t.key] = await load(t, redisPid, ROUND_SECONDS);
    }
    rounds.push(round);
    process.stderr.write(`bench: round ${i + 1}/${ROUNDS} done\n`);
  }

  // Streaming: alternate the two servers request by request.
  const query = JSON.stringify({ query: 'What can you do for me today?', inputs: {}, response_mode: 'streaming' });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const streamUrl = `${base}/openapi/v1/apps/${appId}/chat-messages/stream`;
  const bareStreamUrl = new URL('/stream', bare.url).href;
  const ttfb = { tessera: [] as number[], bare: [] as number[] };
  for (let i = 0; i < 5; i++) await firstEventMs(streamUrl, auth, query, agent); // warm
  for (let i = 0; i < STREAM_REQUESTS; i++) {
    ttfb.bare.push(await firstEventMs(bareStreamUrl, {}, query, agent));
    ttfb.tessera.push(await firstEventMs(streamUrl, auth, query, agent));
  }
  agent.destroy();
  redis.disconnect();
  const loadAfter = loadavg();

  const ratio = (k: string, to: string) => median(rounds.map((r) => r[k]!.rps / r[to]!.rps));
  const p99Ratio = (k: string, to: string) => median(rounds.map((r) => r[k]!.p99 / Math.max(1, r[to]!.p99)));
  const med = (k: string, f: keyof Sample) => median(rounds.map((r) => r[k]![f]));
  const fmt = (v: number | undefined, w: number, d = 2) => (v === undefined ? '-' : v.toFixed(d)).padStart(w);

  console.log(`\nTessera bench: ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s per target, Node ${process.version}`);
  console.log('Tessera: compiled JS (dist/), NODE_ENV=production, LOG_LEVEL=warn. Medians over rounds.\n');
  console.log('target                       req/s  ×node  ×bare  p99 ms  CPU µs/req  redis µs/req  round trips/req  redis cmds/req  pg queries/req');
  for (const t of targets) {
    const c = t.counts;
    console.log(
      `${t.title.padEnd(26)} ${fmt(med(t.key, 'rps'), 7, 0)} ${fmt(ratio(t.key, 'n'), 6)} ${fmt(ratio(t.key, 'a'), 6)} ${fmt(med(t.key, 'p99'), 7, 0)} ${fmt(med(t.key, 'cpuPerReq'), 11, 0)} ${fmt(med(t.key, 'redisPerReq'), 13, 0)} ${fmt(c?.roundTrips, 16)} ${fmt(c?.commands, 15)} ${fmt(c?.pgQueries, 15)}`,
    );
  }
  console.log('(×node, ×bare: medians of the per-round ratios to (n) and (a); redis cmds counts commands run inside scripts too; CPU is the serving process, every thread)');

  console.log('\nper round (req/s; p99 ms):');
  console.log(`round ${targets.map((t) => t.key.padStart(14)).join('')}`);
  rounds.forEach((r, i) => console.log(`${String(i + 1).padStart(5)} ${targets.map((t) => `${r[t.key]!.rps.toFixed(0)}; ${r[t.key]!.p99}`.padStart(14)).join('')}`));

  const check = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  const b = targets.find((t) => t.key === 'b')!.counts!;
  const lines: [string, number, string, boolean][] = [
    ['/me vs fastify peer (b/fy)', ratio('b', 'fy'), '>= 1.10', ratio('b', 'fy') >= 1.1],
    ['/me vs 1-round-trip floor (b/n1)', ratio('b', 'n1'), '>= 0.80', ratio('b', 'n1') >= 0.8],
    ['p99 /me vs fastify (b/fy)', p99Ratio('b', 'fy'), '<= 1.00', p99Ratio('b', 'fy') <= 1],
    ['app info vs /me (c/b)', ratio('c', 'b'), '>= 0.90', ratio('c', 'b') >= 0.9],
    ['/me vs bare (b/a)', ratio('b', 'a'), '>= 0.80', ratio('b', 'a') >= 0.8],
    ['/me vs peer (b/p)', ratio('b', 'p'), '>= 1.20', ratio('b', 'p') >= 1.2],
    ['app info vs bare (c/a)', ratio('c', 'a'), '>= 0.70', ratio('c', 'a') >= 0.7],
    ['p99 /me vs bare (b/a)', p99Ratio('b', 'a'), '<= 1.50', p99Ratio('b', 'a') <= 1.5],
    ['JWT vs opaque /me (d/b)', ratio('d', 'b'), '>= 0.90', ratio('d', 'b') >= 0.9],
    ['peer vs bare (p/a)', ratio('p', 'a'), '(reference)', true],
    ['floor vs ceiling (n1/n)', ratio('n1', 'n'), '(reference)', true],
    ['fastify vs ceiling (fy/n)', ratio('fy', 'n'), '(reference)', true],
    ['/me vs ceiling (b/n)', ratio('b', 'n'), '(reference)', true],
  ];
  if (WITH_BARE_SERVER) {
    lines.push(['/me vs bare on its server (b/a·s)', ratio('b', 'a·s'), '(reference)', true]);
    lines.push(['p99 /me vs that bare (b/a·s)', p99Ratio('b', 'a·s'), '(reference)', true]);
  }
  if (WITH_TSX) lines.push(['tsx vs dist /me (b·tsx/b)', ratio('b·tsx', 'b'), '(reference)', true]);
  console.log('\ntargets (median of per-round ratios)');
  for (const [name, v, target, ok] of lines) console.log(`  ${name.padEnd(34)} ${v.toFixed(2).padStart(6)}  ${target.padEnd(12)} ${target.startsWith('(') ? '' : check(ok)}`);
  console.log(`  warm /me: ${b.pgQueries.toFixed(2)} pg queries, ${b.roundTrips.toFixed(2)} store round trips  ${check(b.pgQueries === 0 && b.roundTrips === 1)}`);

  const added = median(ttfb.tessera) - median(ttfb.bare);
  console.log(`\nstreaming: time to the first SSE event, ${STREAM_REQUESTS} sequential chat runs each (echo provider), ms`);
  console.log(`  bare server calling the provider  median ${median(ttfb.bare).toFixed(2)}  p90 ${quantile(ttfb.bare, 0.9).toFixed(2)}`);
  console.log(`  Tessera chat-messages/stream      median ${median(ttfb.tessera).toFixed(2)}  p90 ${quantile(ttfb.tessera, 0.9).toFixed(2)}`);
  console.log(`  added by Tessera: ${added.toFixed(2)} ms (target < 5)  ${check(added < 5)}`);
  console.log(`\nmachine: ${cpus().length} CPUs, load average (1/5/15 min) ${loadBefore.map((l) => l.toFixed(2)).join('/')} before, ${loadAfter.map((l) => l.toFixed(2)).join('/')} after`);
  process.exit(0);
}

// `npm run bench -- cluster` and `npm run bench -- observability`: one pair of Tessera processes instead (scripts/bench-pair.ts);
// `npm run bench -- dpop`: DPoP /me against Bearer /me (scripts/bench-dpop.ts).
(process.argv.includes('cluster') ? benchCluster() : process.argv.includes('observability') ? benchObservability() : process.argv.includes('dpop') ? benchDpop() : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
