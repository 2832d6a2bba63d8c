/**
 * Instructions per request, counted by valgrind's callgrind (docs/performance.md): a
 * measure of a request's CPU work that does not move with the machine's load, as time
 * does on a shared machine. Each target runs under callgrind in its own process (compiled,
 * NODE_ENV=production, like npm run bench), gets INSTR_WARM requests to settle the JIT,
 * then its counters are zeroed and read again about INSTR_REQUESTS answers later, all on
 * the same connections.
 * Every instruction of the process in that window is counted, every thread's: the JIT,
 * the garbage collector and node's own C++ included.
 *
 *   INSTR_TARGETS=me,info,node,floor,fastify,bare,peer (default me,floor,fastify; a Tessera target first)
 *   INSTR_WARM (100000) INSTR_REQUESTS (10000) INSTR_CONNECTIONS (10)
 *   INSTR_DIR: another checkout (built with npm run build) for Tessera's targets, for A/B;
 *   or per target, `me@/path/to/checkout`
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { ensureBuilt, seed, startBaselineTarget, startRedis, startTessera, stop } from './bench-kit.ts';

const TARGETS = (process.env.INSTR_TARGETS ?? 'me,floor,fastify').split(',');
const WARM = Number(process.env.INSTR_WARM ?? 100_000);
const REQUESTS = Number(process.env.INSTR_REQUESTS ?? 10_000);
const CONNECTIONS = Number(process.env.INSTR_CONNECTIONS ?? 10);

function control(pid: number, ...args: string[]): void {
  const r = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`callgrind_control ${args.join(' ')}: ${r.stderr || r.stdout}`);
}

/**
 * The instructions of the last dump callgrind wrote into `dir`: the main thread's (JavaScript,
 * the event loop, the part of garbage collection it does itself) and every thread's (the JIT's
 * background compiles and the collector's helpers too, which land in a window unevenly).
 */
function lastDump(dir: string): { main: number; all: number } {
  const files = readdirSync(dir).filter((f) => /^callgrind\.out\.\d+\.\d+-\d+$/.test(f));
  const last = Math.max(...files.map((f) => Number(/\.(\d+)-\d+$/.exec(f)![1])));
  let main = 0;
  let all = 0;
  for (const f of files.filter((f) => Number(/\.(\d+)-\d+$/.exec(f)![1]) === last)) {
    const total = /^(?:totals|summary): (\d+)/m.exec(readFileSync(path.join(dir, f), 'utf8'));
    if (!total) throw new Error(`no total in ${f}`);
    all += Number(total[1]);
    if (f.endsWith('-01')) main = Number(total[1]);
  }
  return { main, all };
}

async function main() {
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is needed (apt-get install valgrind)');
  ensureBuilt();
  const { dbUrl, token, appId } = await seed();
  const redisPort = await startRedis();
  const headers = { Authorization: `Bearer ${token}` };
  let body = '';
  const results: [string, { main: number; all: number }][] = [];
  for (const target of TARGETS) {
    // `me@/other/checkout`: that build's Tessera (A/B in one run).
    const [name, build = process.env.INSTR_DIR] = target.split('@') as [string, string | undefined];
    const dir = mkdtempSync(path.join(tmpdir(), 'tessera-callgrind-'));
    // Instrumentation off until the server is warm: start-up and JIT warm-up run faster.
    const wrap = ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${path.join(dir, 'callgrind.out.%p')}`];
    const ours = name === 'me' || name === 'info';
    let server;
    if (ours) {
      const tessera = await startTessera({ dbUrl, redisPort, dir: build, wrap });
      const url = `${tessera.base}/openapi/v1/${name === 'info' ? `apps/${appId}/info` : 'me'}`;
      server = { child: tessera.child, url };
      body ||= await (await fetch(`${tessera.base}/openapi/v1/me`, { headers })).text();
    } else {
      if (!body) throw new Error('list a Tessera target (me, info) before the baselines: they answer its body');
      server = await startBaselineTarget(name, { body, token, redisPort, wrap });
    }
    const pid = server.child.pid!;
    // One run on the same connections throughout: counters zeroed after WARM answers, read after
    // REQUESTS more (opening and closing connections takes other paths, which would be counted).
    let answered = 0;
    let counted = 0;
    const r = await new Promise<autocannon.Result>((resolve, reject) => {
      const opts = { url: server.url, connections: CONNECTIONS, amount: WARM + REQUESTS, headers, timeout: 60 };
      autocannon(opts, (err, result) => (err ? reject(err) : resolve(result))).on('response', () => {
        answered++;
        if (answered === WARM) {
          control(pid, '-i', 'on');
          control(pid, '-z');
          counted = answered;
        } else if (answered === WARM + REQUESTS - CONNECTIONS) {
          control(pid, '-d');
          counted = answered - counted;
        }
      });
    });
    // Under valgrind a server runs tens of times slower: a rare store timeout (503) is no reason to lose the run.
    if (r.non2xx + r.errors > (WARM + REQUESTS) / 1000) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    const { main: mainThread, all } = lastDump(dir);
    results.push([target, { main: mainThread / counted, all: all / counted }]);
    process.stderr.write(`instructions: ${target} ${Math.round(mainThread / counted)} main thread, ${Math.round(all / counted)} all threads\n`);
    await stop(server.child);
  }
  console.log(`\ninstructions per request (callgrind, about ${REQUESTS} requests after ${WARM} to warm, ${CONNECTIONS} connections)`);
  console.log(`  ${'target'.padEnd(30)} ${'main thread'.padStart(12)} ${'all threads'.padStart(12)}`);
  for (const [name, n] of results) console.log(`  ${name.padEnd(30)} ${Math.round(n.main).toLocaleString('en').padStart(12)} ${Math.round(n.all).toLocaleString('en').padStart(12)}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
