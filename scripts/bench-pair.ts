/**
 * Two Tessera processes compared on one warm request (the bench's cluster and observability
 * targets): BENCH_ROUNDS interleaved rounds of BENCH_ROUND_SECONDS per side, after a second
 * of unmeasured load, the order alternating; the ratio is taken within each round
 * (neighbours in time, so a machine busy with other work weighs on both alike) and the
 * median over rounds is reported, with the ratio of CPU per request, which the machine's
 * load moves least.
 */
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import { cpuMicros, median } from './bench-kit.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 5);

export interface PairSide {
  title: string;
  url: string;
  pid: number;
  /** Redis servers whose CPU per request is reported beside the side's. */
  redisPids: number[];
  /**
   * A token per side and round: at 20,000 req/s one token passes the highest per-token
   * limit (1,000,000 a minute) within a few rounds. `tokens` holds at least BENCH_ROUNDS + 1.
   */
  tokens: string[];
}

/** Tokens for the rounds of one side (scripts/bench-kit.ts seeds each). */
export const tokensNeeded = (): number => ROUNDS + 1;

export interface Pair {
  /** What is measured, e.g. "cluster target: warm GET /openapi/v1/me". */
  name: string;
  /** The reference, then the side held to `target` × the reference. */
  sides: [PairSide, PairSide];
  target: number;
  /** Runs after each round of the second side (e.g. a scrape). */
  afterRound?: () => Promise<void>;
}

async function round(side: PairSide, i: number) {
  const headers = { Authorization: `Bearer ${side.tokens[i]!}` };
  await autocannon({ url: side.url, connections: CONNECTIONS, duration: 1, headers });
  const cpu0 = cpuMicros(side.pid);
  const redis0 = side.redisPids.reduce((n, p) => n + cpuMicros(p), 0);
  const r = await autocannon({ url: side.url, connections: CONNECTIONS, duration: ROUND_SECONDS, headers });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${side.title}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  const n = r.requests.total;
  return { rps: r.requests.average, p99: r.latency.p99, cpu: (cpuMicros(side.pid) - cpu0) / n, redis: (side.redisPids.reduce((m, p) => m + cpuMicros(p), 0) - redis0) / n };
}

/** Runs the rounds and prints the table, the per-round ratios and the target; resolves whether the target held. */
export async function benchPair(p: Pair): Promise<boolean> {
  for (const s of p.sides) await autocannon({ url: s.url, connections: CONNECTIONS, duration: 2, headers: { Authorization: `Bearer ${s.tokens[ROUNDS]!}` } });
  const loadBefore = loadavg();
  const rounds: Awaited<ReturnType<typeof round>>[][] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r: Awaited<ReturnType<typeof round>>[] = [];
    for (const k of i % 2 ? [1, 0] : [0, 1]) {
      r[k] = await round(p.sides[k]!, i);
      if (k === 1) await p.afterRound?.();
    }
    rounds.push(r);
    process.stderr.write(`bench ${p.name}: round ${i + 1}/${ROUNDS} done\n`);
  }
  const [base, other] = p.sides;
  const ratios = rounds.map((r) => r[1]!.rps / r[0]!.rps);
  const med = (k: number, f: 'rps' | 'p99' | 'cpu' | 'redis') => median(rounds.map((r) => r[k]![f]));
  const ratio = median(ratios);
  console.log(`\nTessera bench, ${p.name}, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s per side, Node ${process.version}`);
  console.log(`${'side'.padEnd(40)}   req/s  p99 ms  CPU µs/req  redis µs/req`);
  for (const k of [0, 1]) {
    console.log(`${p.sides[k]!.title.padEnd(40)} ${med(k, 'rps').toFixed(0).padStart(7)} ${med(k, 'p99').toFixed(0).padStart(7)} ${med(k, 'cpu').toFixed(0).padStart(11)} ${med(k, 'redis').toFixed(0).padStart(13)}`);
  }
  console.log(`per-round ratio ${other.title} / ${base.title}: ${ratios.map((x) => x.toFixed(2)).join(' ')}`);
  const cpuRatio = median(rounds.map((r) => r[0]!.cpu / r[1]!.cpu));
  console.log(`CPU per request, reference ÷ other (median of rounds; the throughput ratio a CPU-bound server would reach): ${cpuRatio.toFixed(2)}`);
  const ok = ratio >= p.target;
  console.log(`\ntarget: ${other.title} ≥ ${p.target.toFixed(2)}× ${base.title} (median of per-round ratios): ${ratio.toFixed(2)}  ${ok ? 'ok' : 'MISSED'}`);
  console.log(`machine: ${cpus().length} CPUs, load average (1/5/15 min) ${loadBefore.map((l) => l.toFixed(2)).join('/')} before, ${loadavg().map((l) => l.toFixed(2)).join('/')} after`);
  return ok;
}
