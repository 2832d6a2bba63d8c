/**
 * npm run profile — where a warm request's CPU goes (docs/performance.md).
 * Runs Tessera as in production (dist/, NODE_ENV=production, LOG_LEVEL=warn) under
 * `node --cpu-prof`, loads one target with autocannon (50 connections), and prints
 * the process CPU per request (from /proc, all threads) and the JS thread's samples
 * from the loaded window, grouped by layer (scripts/cpu-profile.ts).
 *
 *   PROFILE_TARGET=me|info|node|floor|fastify|bare|peer (default me), PROFILE_SECONDS (10), PROFILE_LOADER=dist|tsx
 * (node, floor, fastify, bare and peer are the baselines of npm run bench, profiled the same way).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { cpuMicros, ensureBuilt, seed, startBaselineTarget, startRedis, startTessera, stop } from './bench-kit.ts';
import { report, summarize, type CpuProfile } from './cpu-profile.ts';

const TARGET = process.env.PROFILE_TARGET ?? 'me';
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const LOADER = process.env.PROFILE_LOADER === 'tsx' ? 'tsx' : 'dist';

async function main() {
  ensureBuilt();
  const { dbUrl, token, appId } = await seed();
  const redisPort = await startRedis();
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-profile-'));
  // 250 µs between samples: enough detail for a request of a few hundred µs, little overhead.
  const prof = ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '250'];
  const ours = TARGET === 'me' || TARGET === 'info';
  const tessera = await startTessera({ dbUrl, redisPort, loader: LOADER, nodeArgs: ours ? prof : [] });
  const headers = { Authorization: `Bearer ${token}` };
  let child = tessera.child;
  let url = TARGET === 'info' ? `${tessera.base}/openapi/v1/apps/${appId}/info` : `${tessera.base}/openapi/v1/me`;
  if (!ours) {
    // The baselines of npm run bench, profiled the same way.
    const body = await (await fetch(url, { headers })).text();
    ({ child, url } = await startBaselineTarget(TARGET, { body, token, redisPort, nodeArgs: prof }));
  }
  await autocannon({ url, connections: CONNECTIONS, duration: 2, headers }); // warm: JIT, caches

  const from = process.hrtime.bigint() / 1000n;
  const cpu0 = cpuMicros(child.pid!);
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers });
  const cpu1 = cpuMicros(child.pid!);
  const to = process.hrtime.bigint() / 1000n;
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx, ${r.errors} errors`);
  await stop(child);

  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile written in ${dir}`);
  const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
  const requests = r.requests.total;
  const cpu = (cpu1 - cpu0) / requests;
  console.log(`\nprofile of ${TARGET}: GET ${new URL(url).pathname} (${ours ? LOADER : 'dist'}), ${CONNECTIONS} connections, ${SECONDS} s`);
  console.log(`${requests} requests, ${r.requests.average.toFixed(0)} req/s (profiler on), p99 ${r.latency.p99} ms`);
  console.log(`process CPU: ${cpu.toFixed(0)} µs per request (user + system, every thread; profiler on)\n`);
  // The profile's clock is the same monotonic clock as process.hrtime.
  console.log(report(summarize(profile, Number(from), Number(to)), requests, cpu));
  console.log(`\nprofile: ${path.join(dir, file)} (open it in Chrome DevTools or speedscope)`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
