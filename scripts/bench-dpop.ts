/**
 * `npm run bench -- dpop`: warm GET /openapi/v1/me with a DPoP-bound token (a fresh ES256 proof
 * on every request, as the CLI sends) against the same with a Bearer token, on one Tessera
 * process as in production (dist/, NODE_ENV=production) and one Redis (docs/performance.md,
 * "DPoP"). Every proof is unique, so none is refused as a replay: each side's requests are
 * made before its round (signed here with node's crypto, outside the measured window) and
 * handed out one per request; the Bearer side goes through the same per-request hook, so the
 * load generator does the same work for both. BENCH_ROUNDS (7) interleaved rounds of
 * BENCH_ROUND_SECONDS (5) per side after a second of unmeasured load, the order alternating;
 * ratios are taken within each round and their median reported, with the server's CPU per
 * request (what a request costs whatever else the machine does). Also counted: Redis round
 * trips and Postgres transactions per warm DPoP request.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, webcrypto, type KeyObject } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { calculateJwkThumbprint, compactVerify, importJWK, type CryptoKey, type JWK } from 'jose';
import pg from 'pg';
import { generateToken, hashToken } from '../src/auth/token-kinds.ts';
import { cpuMicros, DB_NAME, ensureBuilt, median, seed, sleep, startRedis, startTessera } from './bench-kit.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 5);
const WARM_SECONDS = 1;
const COUNT_REQUESTS = 200;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The client's key, and `n` proofs of it for GET `htu` with `token`, each with its own jti (RFC 9449 §4.2). */
class Prover {
  private readonly header: string;

  private constructor(
    private readonly key: KeyObject,
    readonly jwk: JWK,
    readonly jkt: string,
  ) {
    this.header = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk });
  }

  static async create(): Promise<Prover> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' }) as JWK;
    return new Prover(privateKey, jwk, await calculateJwkThumbprint(jwk));
  }

  proofs(n: number, htu: string, token: string): string[] {
    const ath = createHash('sha256').update(token).digest('base64url');
    const iat = Math.floor(Date.now() / 1000);
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const input = `${this.header}.${b64({ jti: randomBytes(12).toString('base64url'), htm: 'GET', htu, iat, ath })}`;
      out[i] = `${input}.${sign('sha256', Buffer.from(input), { key: this.key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    }
    return out;
  }
}

/**
 * What one ES256 signature check costs in this process (CPU µs, median of 5 runs of 1,000):
 * OpenSSL itself (node:crypto's verify), through WebCrypto (what jose 6 calls), and jose's
 * compactVerify, which the server runs once per proof.
 */
async function signatureCost(prover: Prover): Promise<{ openssl: number; webcrypto: number; jose: number }> {
  const [proof] = prover.proofs(1, 'http://localhost/x', 'token');
  const [header, payload, signature] = proof!.split('.') as [string, string, string];
  const data = Buffer.from(`${header}.${payload}`);
  const sig = Buffer.from(signature, 'base64url');
  const keyObject = createPublicKey({ key: { ...prover.jwk }, format: 'jwk' });
  const cryptoKey = (await importJWK(prover.jwk, 'ES256')) as CryptoKey;
  const cpuOf = async (f: () => unknown) => {
    const runs: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < 1_000; i++) await f();
      const t = process.cpuUsage(t0);
      runs.push((t.user + t.system) / 1_000);
    }
    return median(runs);
  };
  return {
    openssl: await cpuOf(() => verify('sha256', data, { key: keyObject, dsaEncoding: 'ieee-p1363' }, sig)),
    webcrypto: await cpuOf(() => webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, cryptoKey, sig, data)),
    jose: await cpuOf(() => compactVerify(proof!, cryptoKey)),
  };
}

/** A second device session of the seeded account, bound to `jkt`. */
async function boundToken(dbUrl: string, bearer: string, jkt: string): Promise<string> {
  const token = generateToken('tsa_');
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  await c.query(
    `INSERT INTO oauth_access_tokens (token_hash, prefix, subject_email, subject_issuer, account_id, client_id, device_label, expires_at, dpop_jkt)
     SELECT $1, prefix, subject_email, subject_issuer, account_id, client_id, 'bench-dpop', expires_at, $3 FROM oauth_access_tokens WHERE token_hash = $2`,
    [hashToken(token), hashToken(bearer), jkt],
  );
  await c.end();
  return token;
}

interface Side {
  key: 'bearer' | 'dpop';
  /** The headers of `n` requests, one set each. */
  headers(n: number): Record<string, string>[];
}

interface Sample {
  rps: number;
  p99: number;
  cpu: number;
  redis: number;
}

/** Requests made during a measured window because the prepared ones ran out (the load generator then signed them itself). */
let madeLate = 0;

/** Load from prepared requests: each request takes the next set of headers (never one twice). */
async function load(url: string, side: Side, seconds: number, expectedRps: number) {
  const sets = side.headers(Math.ceil(expectedRps * seconds * 3) + CONNECTIONS * 10);
  let next = 0;
  const take = () => {
    if (next < sets.length) return sets[next++]!;
    madeLate++;
    return side.headers(1)[0]!;
  };
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, requests: [{ setupRequest: (req) => ({ ...req, headers: take() }) }] as autocannon.Request[] });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${side.key}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return r;
}

async function measure(url: string, side: Side, pid: number, redisPid: number, expectedRps: number): Promise<Sample> {
  await load(url, side, WARM_SECONDS, expectedRps);
  const cpu0 = cpuMicros(pid);
  const redis0 = cpuMicros(redisPid);
  const r = await load(url, side, ROUND_SECONDS, expectedRps);
  const n = r.requests.total;
  return { rps: r.requests.average, p99: r.latency.p99, cpu: (cpuMicros(pid) - cpu0) / n, redis: (cpuMicros(redisPid) - redis0) / n };
}

/** Redis round trips (MONITOR, commands not run by scripts) and Postgres transactions per sequential warm DPoP request. */
async function count(url: string, side: Side, redis: Redis, dbUrl: string): Promise<{ roundTrips: number; pgQueries: number }> {
  const transactions = async () => {
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    const r = await c.query('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [DB_NAME]);
    await c.end();
    return Number(r.rows[0].n);
  };
  const sets = side.headers(COUNT_REQUESTS);
  await sleep(1_100);
  const pg0 = await transactions();
  const monitor = await redis.monitor();
  let roundTrips = 0;
  monitor.on('monitor', (_t: string, args: string[], source: string) => {
    if (source !== 'lua' && !['info', 'ping', 'monitor'].includes(String(args[0]).toLowerCase())) roundTrips++;
  });
  for (const headers of sets) {
    const res = await fetch(url, { headers });
    if (!res.ok) throw new Error(`count: ${res.status}`);
    await res.arrayBuffer();
  }
  await sleep(300);
  monitor.disconnect();
  await sleep(1_100);
  // The second probe's own connection adds a start-up transaction and its query.
  return { roundTrips: roundTrips / COUNT_REQUESTS, pgQueries: ((await transactions()) - pg0 - 2) / COUNT_REQUESTS };
}

export async function benchDpop(): Promise<void> {
  ensureBuilt();
  const { dbUrl, token } = await seed();
  const prover = await Prover.create();
  const bound = await boundToken(dbUrl, token, prover.jkt);
  const redisPort = await startRedis();
  const redis = new Redis({ port: redisPort, host: '127.0.0.1' });
  const redisPid = Number((await redis.info('server')).match(/process_id:(\d+)/)![1]);
  const tessera = await startTessera({ dbUrl, redisPort });
  const url = `${tessera.base}/openapi/v1/me`;
  // The server knows itself as PUBLIC_URL's default, http://localhost:PORT: what a proof's htu names.
  const htu = `http://localhost:${new URL(tessera.base).port}/openapi/v1/me`;
  const sides: Side[] = [
    { key: 'bearer', headers: (n) => new Array(n).fill({ Authorization: `Bearer ${token}` }) },
    { key: 'dpop', headers: (n) => prover.proofs(n, htu, bound).map((DPoP) => ({ Authorization: `DPoP ${bound}`, DPoP })) },
  ];
  const pid = tessera.child.pid!;
  // Warm the server (JIT, caches, connections), then let the first use's last_used_at writes go out (a 5 s timer).
  const expected: Record<string, number> = { bearer: 30_000, dpop: 30_000 };
  for (let i = 0; i < 2; i++) for (const s of sides) expected[s.key] = (await load(url, s, 2, expected[s.key]!)).requests.average;
  await sleep(5_500);
  madeLate = 0;
  const cost = await signatureCost(prover);
  const counted = await count(url, sides[1]!, redis, dbUrl);
  const loadBefore = loadavg();

  const rounds: Record<string, Sample>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const round: Record<string, Sample> = {};
    for (const s of i % 2 ? [...sides].reverse() : sides) {
      round[s.key] = await measure(url, s, pid, redisPid, expected[s.key]!);
      expected[s.key] = Math.max(expected[s.key]!, round[s.key]!.rps);
    }
    rounds.push(round);
    process.stderr.write(`bench dpop: round ${i + 1}/${ROUNDS} done\n`);
  }
  redis.disconnect();

  const med = (k: string, f: keyof Sample) => median(rounds.map((r) => r[k]![f]));
  const ratios = rounds.map((r) => r.dpop!.rps / r.bearer!.rps);
  const ratio = median(ratios);
  const cpuRatio = median(rounds.map((r) => r.bearer!.cpu / r.dpop!.cpu));
  console.log(`\nTessera bench, DPoP target: warm GET /openapi/v1/me, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s per side, Node ${process.version}`);
  console.log('side                         req/s  p99 ms  CPU µs/req  redis µs/req');
  for (const [k, title] of [['bearer', 'Bearer token'], ['dpop', 'DPoP token, ES256 proof']] as const) {
    console.log(`${title.padEnd(26)} ${med(k, 'rps').toFixed(0).padStart(7)} ${med(k, 'p99').toFixed(0).padStart(7)} ${med(k, 'cpu').toFixed(0).padStart(11)} ${med(k, 'redis').toFixed(0).padStart(13)}`);
  }
  console.log(`per-round ratio DPoP/Bearer: ${ratios.map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`CPU per request, Bearer ÷ DPoP (median of rounds; the throughput ratio a CPU-bound server would reach): ${cpuRatio.toFixed(2)}`);
  console.log(`one ES256 signature check, CPU µs in this process: OpenSSL ${cost.openssl.toFixed(0)}, through WebCrypto ${cost.webcrypto.toFixed(0)}, jose compactVerify ${cost.jose.toFixed(0)}`);
  if (madeLate > 0) console.log(`(${madeLate} requests were signed during the measured windows: the prepared ones ran out; they weigh on the DPoP side)`);
  console.log(`warm DPoP /me: ${counted.pgQueries.toFixed(2)} pg queries, ${counted.roundTrips.toFixed(2)} store round trips  ${counted.pgQueries === 0 && counted.roundTrips === 1 ? 'ok' : 'MISSED'}`);
  console.log(`\ntarget: DPoP ≥ 0.70× Bearer (median of per-round ratios): ${ratio.toFixed(2)}  ${ratio >= 0.7 ? 'ok' : 'MISSED'}`);
  console.log(`machine: ${cpus().length} CPUs, load average (1/5/15 min) ${loadBefore.map((l) => l.toFixed(2)).join('/')} before, ${loadavg().map((l) => l.toFixed(2)).join('/')} after`);
  process.exit(0);
}
