/**
 * `npm run bench -- cluster`: warm GET /openapi/v1/me with the store on a Redis Cluster of
 * three primaries against the same on one Redis (docs/performance.md). Two Tessera processes
 * as in production (dist/, NODE_ENV=production), one per deployment, on one database; neither
 * Redis has replicas, so both sides do the same work per command. Rounds and ratios as
 * scripts/bench-pair.ts takes them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureBuilt, freePort, redisPid, seed, sleep, start, startRedis, startTessera, tokens } from './bench-kit.ts';
import { benchPair, tokensNeeded } from './bench-pair.ts';

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

export async function benchCluster(): Promise<void> {
  ensureBuilt();
  const { dbUrl } = await seed();
  const redisPort = await startRedis();
  const cluster = await startCluster();
  const one = await startTessera({ dbUrl, redisPort });
  const onCluster = await startTessera({ dbUrl, redisPort, env: { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.ports.map((p) => `127.0.0.1:${p}`).join(',') } });
  const health = (await (await fetch(`${onCluster.base}/openapi/v1/_health`)).json()) as { store_deployment: string };
  if (health.store_deployment !== 'redis_cluster') throw new Error(`the cluster side runs on ${health.store_deployment}`);
  await benchPair({
    name: 'cluster target: warm GET /openapi/v1/me',
    sides: [
      { title: 'one Redis', url: `${one.base}/openapi/v1/me`, pid: one.child.pid!, redisPids: [redisPid(redisPort)], tokens: await tokens(tokensNeeded()) },
      { title: 'Redis Cluster, 3 primaries', url: `${onCluster.base}/openapi/v1/me`, pid: onCluster.child.pid!, redisPids: cluster.pids, tokens: await tokens(tokensNeeded()) },
    ],
    target: 0.9,
  });
  process.exit(0);
}
