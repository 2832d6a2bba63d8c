/**
 * `npm run bench -- cluster`: warm GET /openapi/v1/me with the store on a Redis Cluster of
 * three primaries against the same on one Redis (docs/performance.md). Two Tessera processes
 * as in production (dist/, NODE_ENV=production), one per deployment, on one database; neither
 * Redis has replicas, so both sides do the same work per command. BENCH_ROUNDS (7)
 * interleaved rounds of BENCH_ROUND_SECONDS (5) per side, after a second of unmeasured load,
 * the order alternating; the ratio is taken within each round (neighbours in time, so a
 * machine busy with other work weighs on both alike) and the median over rounds is reported.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { cpuMicros, ensureBuilt, freePort, median, seed, sleep, start, startRedis, startTessera } from './bench-kit.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 5);

/** Three primaries, no replicas, made by redis-cli; resolves with their ports and pids. */
async function startCluster(): Promise<{ ports: number[]; pids: number[] }> {
  const ports: number[] = [];
  const pids: number[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-bench-cluster-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const child = await start(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-port', String(await freePort()), '--dir', dir, '--cluster-config-file', `nodes-${port}.conf`],
      {},
      /Ready to accept/,
    );
    ports.push(port);
    pids.push(child.pid!);
  }
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`redis-cli --cluster create: ${created.stdout}${created.stderr}`);
  for (let i = 0; ; i++) {
    const info = spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
    if (/cluster_state:ok/.test(info)) break;
    if (i > 100) throw new Error(`the cluster did not become ok: ${info}`);
    await sleep(100);
  }
  return { ports, pids };
}

interface Side {
  key: 'one' | 'cluster';
  url: string;
  pid: number;
  redisPids: number[];
}

async function round(side: Side, headers: Record<string, string>) {
  await autocannon({ url: side.url, connections: CONNECTIONS, duration: 1, headers });
  const cpu0 = cpuMicros(side.pid);
  const redis0 = side.redisPids.reduce((n, p) => n + cpuMicros(p), 0);
  const r = await autocannon({ url: side.url, connections: CONNECTIONS, duration: ROUND_SECONDS, headers });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${side.key}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  const n = r.requests.total;
  return { rps: r.requests.average, p99: r.latency.p99, cpu: (cpuMicros(side.pid) - cpu0) / n, redis: (side.redisPids.reduce((m, p) => m + cpuMicros(p), 0) - redis0) / n };
}

export async function benchCluster(): Promise<void> {
  ensureBuilt();
  const { dbUrl, token } = await seed();
  const redisPort = await startRedis();
  const redisPid = Number(spawnSync('redis-cli', ['-p', String(redisPort), 'info', 'server'], { encoding: 'utf8' }).stdout.match(/process_id:(\d+)/)![1]);
  const cluster = await startCluster();
  const one = await startTessera({ dbUrl, redisPort });
  const onCluster = await startTessera({ dbUrl, redisPort, env: { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.ports.map((p) => `127.0.0.1:${p}`).join(',') } });
  const sides: Side[] = [
    { key: 'one', url: `${one.base}/openapi/v1/me`, pid: one.child.pid!, redisPids: [redisPid] },
    { key: 'cluster', url: `${onCluster.base}/openapi/v1/me`, pid: onCluster.child.pid!, redisPids: cluster.pids },
  ];
  const headers = { Authorization: `Bearer ${token}` };
  const health = (await (await fetch(`${onCluster.base}/openapi/v1/_health`)).json()) as { store_deployment: string };
  if (health.store_deployment !== 'redis_cluster') throw new Error(`the cluster side runs on ${health.store_deployment}`);
  for (const s of sides) await autocannon({ url: s.url, connections: CONNECTIONS, duration: 2, headers });
  const loadBefore = loadavg();

  const rounds: Record<string, Awaited<ReturnType<typeof round>>>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r: (typeof rounds)[number] = {};
    for (const s of i % 2 ? [...sides].reverse() : sides) r[s.key] = await round(s, headers);
    rounds.push(r);
    process.stderr.write(`bench cluster: round ${i + 1}/${ROUNDS} done\n`);
  }
  const ratios = rounds.map((r) => r.cluster!.rps / r.one!.rps);
  const med = (k: string, f: 'rps' | 'p99' | 'cpu' | 'redis') => median(rounds.map((r) => r[k]![f]));
  const ratio = median(ratios);
  console.log(`\nTessera bench, cluster target: warm GET /openapi/v1/me, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s per side, Node ${process.version}`);
  console.log('side                         req/s  p99 ms  CPU µs/req  redis µs/req (all nodes)');
  for (const [k, title] of [['one', 'one Redis'], ['cluster', 'Redis Cluster, 3 primaries']] as const) {
    console.log(`${title.padEnd(26)} ${med(k, 'rps').toFixed(0).padStart(7)} ${med(k, 'p99').toFixed(0).padStart(7)} ${med(k, 'cpu').toFixed(0).padStart(11)} ${med(k, 'redis').toFixed(0).padStart(13)}`);
  }
  console.log(`per-round ratio cluster/one: ${ratios.map((x) => x.toFixed(2)).join(' ')}`);
  // On a machine shared with other work, req/s swing from round to round; CPU per request is what a request costs whatever the rest does.
  const cpuRatio = median(rounds.map((r) => r.one!.cpu / r.cluster!.cpu));
  console.log(`CPU per request, one ÷ cluster (median of rounds; the throughput ratio a CPU-bound server would reach): ${cpuRatio.toFixed(2)}`);
  console.log(`\ntarget: cluster ≥ 0.90× one Redis (median of per-round ratios): ${ratio.toFixed(2)}  ${ratio >= 0.9 ? 'ok' : 'MISSED'}`);
  console.log(`machine: ${cpus().length} CPUs, load average (1/5/15 min) ${loadBefore.map((l) => l.toFixed(2)).join('/')} before, ${loadavg().map((l) => l.toFixed(2)).join('/')} after`);
  process.exit(0);
}
