/**
 * A/B for a change on the hot path (docs/performance.md): two builds of Tessera side by
 * side on one Redis and one database, loaded in alternating rounds, with the CPU each
 * spends per request compared round by round (a preceding second of load keeps both warm).
 *
 *   AB_A=/path/to/other/checkout (built with npm run build)  AB_B=. (default)
 *   AB_RATE=3000 req/s (0: flat out)  AB_ROUNDS=10  AB_SECONDS=3  AB_PATH=me|info
 *   AB_A_ENV / AB_B_ENV: JSON objects of extra environment for one side
 */
import path from 'node:path';
import autocannon from 'autocannon';
import { cpuMicros, ensureBuilt, median, ROOT, seed, startRedis, startTessera } from './bench-kit.ts';

const RATE = Number(process.env.AB_RATE ?? 3_000);
const ROUNDS = Number(process.env.AB_ROUNDS ?? 10);
const SECONDS = Number(process.env.AB_SECONDS ?? 3);


async function main() {
  if (!process.env.AB_A) throw new Error('AB_A: the directory of the other build (a checkout where npm run build has run)');
  ensureBuilt();
  const { dbUrl, token, appId } = await seed();
  const redisPort = await startRedis();
  const sides = { A: path.resolve(process.env.AB_A), B: path.resolve(process.env.AB_B ?? ROOT) };
  const servers: Record<string, { pid: number; base: string }> = {};
  for (const [side, dir] of Object.entries(sides)) {
    const env = JSON.parse(process.env[`AB_${side}_ENV`] ?? '{}') as Record<string, string>;
    const { child, base } = await startTessera({ dbUrl, redisPort, dir, env });
    servers[side] = { pid: child.pid!, base };
  }
  const target = process.env.AB_PATH === 'info' ? `/openapi/v1/apps/${appId}/info` : '/openapi/v1/me';
  const headers = { Authorization: `Bearer ${token}` };
  const cpu: Record<string, number[]> = { A: [], B: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const side of i % 2 ? ['B', 'A'] : ['A', 'B']) {
      const s = servers[side]!;
      const url = s.base + target;
      await autocannon({ url, connections: 50, duration: 1, headers });
      const before = cpuMicros(s.pid);
      const r = await autocannon({ url, connections: 50, duration: SECONDS, headers, ...(RATE > 0 ? { overallRate: RATE } : {}) });
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${side}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      cpu[side]!.push((cpuMicros(s.pid) - before) / r.requests.total);
    }
  }
  const diffs = cpu.B!.map((b, i) => b - cpu.A![i]!);
  console.log(`A ${sides.A}\nB ${sides.B}\nGET ${target}, ${RATE > 0 ? `${RATE} req/s` : 'flat out'}, ${ROUNDS} rounds of ${SECONDS} s`);
  console.log(`CPU µs per request, median: A ${median(cpu.A!).toFixed(0)}, B ${median(cpu.B!).toFixed(0)}`);
  console.log(`B − A per round: ${diffs.map((d) => d.toFixed(0)).join(' ')}; median ${median(diffs).toFixed(0)}; B lower in ${diffs.filter((d) => d < 0).length} of ${ROUNDS}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
