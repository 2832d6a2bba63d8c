/**
 * npx tsx scripts/sse-memory.ts — how much memory streaming runs hold when their
 * clients never read. Runs Tessera in a child process as in production (compiled, its own
 * redis-server, the bench's database on DATABASE_URL's Postgres; scripts/bench-kit.ts), opens SSE_STREAMS streaming chat runs
 * (echo model, a 100,000-character query: about 10 MB of events each) whose
 * sockets never read, and samples the server's RSS for SSE_SECONDS. A measurement,
 * printed; nothing here asserts a timing.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Database } from '../src/storage/db.ts';
import { ensureBuilt, seed, sleep, startRedis, startTessera } from './bench-kit.ts';

const STREAMS = Number(process.env.SSE_STREAMS ?? 20);
const SECONDS = Number(process.env.SSE_SECONDS ?? 10);
const QUERY = 'w '.repeat(50_000);

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function neverReading(port: number, path: string, token: string): Socket {
  const body = JSON.stringify({ inputs: {}, query: QUERY, response_mode: 'streaming' });
  const socket = connect(port, '127.0.0.1');
  socket.pause();
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return socket;
}

async function main() {
  ensureBuilt();
  const { dbUrl, token, appId } = await seed();
  const { child: server, base } = await startTessera({ dbUrl, redisPort: await startRedis() });
  const port = Number(new URL(base).port);
  const path = `/openapi/v1/apps/${appId}/chat-messages`;
  // Warm up: one small run read to the end, so code paths are loaded before the baseline.
  const warm = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ inputs: {}, query: 'warm up', response_mode: 'streaming' }),
  });
  await warm.text();
  await sleep(1_000);
  const baseline = rssMb(server.pid!);
  const sockets = Array.from({ length: STREAMS }, () => neverReading(port, path, token));
  let peak = baseline;
  for (let t = 0; t < SECONDS * 4; t++) {
    await sleep(250);
    peak = Math.max(peak, rssMb(server.pid!));
  }
  const end = rssMb(server.pid!);
  const db = new Database(dbUrl);
  const runs = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM messages WHERE app_id = $1 GROUP BY status', [appId]);
  sockets.forEach((s) => s.destroy());
  await db.close();
  console.log(`${STREAMS} streaming runs whose clients never read, ${SECONDS} s, Node ${process.version}`);
  console.log(`server RSS: baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB (+${(peak - baseline).toFixed(0)} MB), at the end ${end.toFixed(0)} MB (+${(end - baseline).toFixed(0)} MB)`);
  console.log(`runs by status: ${runs.map((r) => `${r.status} ${r.n}`).join(', ')}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
