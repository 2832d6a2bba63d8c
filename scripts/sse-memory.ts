/**
 * npx tsx scripts/sse-memory.ts — how much memory streaming runs hold when their
 * clients never read. Runs Tessera in a child process as in production (compiled, its own
 * redis-server, the bench's database on DATABASE_URL's Postgres; scripts/bench-kit.ts), opens SSE_STREAMS streaming chat runs
 * (echo model, a 50,000-word query: about 10 MB of events each) whose
 * sockets never read, holds them SSE_SECONDS and reports:
 * - the server's RSS at its peak, from the kernel's high-water mark (VmHWM, reset after the
 *   baseline), so no short peak falls between two samples;
 * - what the kernel holds in the send queues of the server's sockets (outside RSS: the
 *   operating system's TCP buffers, /proc/net/tcp), sampled every 100 ms.
 * A measurement, printed; nothing here asserts a timing. Linux only (/proc).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Database } from '../src/storage/db.ts';
import { ensureBuilt, seed, sleep, startRedis, startTessera } from './bench-kit.ts';

const STREAMS = Number(process.env.SSE_STREAMS ?? 20);
const SECONDS = Number(process.env.SSE_SECONDS ?? 10);
const QUERY = 'w '.repeat(50_000);
const LIMIT_MB = 30;

const statusMb = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Bytes queued to send on the TCP sockets whose local port is `port` (the server's accepted connections). */
function sendQueuesMb(port: number): number {
  let bytes = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue …
      const [, local, , , queues] = line.trim().split(/\s+/);
      if (local && queues && parseInt(local.split(':')[1]!, 16) === port) bytes += parseInt(queues.split(':')[0]!, 16);
    }
  }
  return bytes / 1024 / 1024;
}

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
  const pid = server.pid!;
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
  const baseline = statusMb(pid, 'VmRSS');
  // "5" resets the peak RSS to the current one (proc(5), clear_refs), so the peak read later is this run's.
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const sockets = Array.from({ length: STREAMS }, () => neverReading(port, path, token));
  let kernel = 0;
  for (let t = 0; t < SECONDS * 10; t++) {
    await sleep(100);
    kernel = Math.max(kernel, sendQueuesMb(port));
  }
  const peak = statusMb(pid, 'VmHWM') - baseline;
  const end = statusMb(pid, 'VmRSS') - baseline;
  const db = new Database(dbUrl);
  const runs = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM messages WHERE app_id = $1 GROUP BY status', [appId]);
  sockets.forEach((s) => s.destroy());
  await db.close();
  const mb = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(1)} MB`;
  console.log(`${STREAMS} streaming runs of a 50,000-word answer whose clients never read, held ${SECONDS} s, Node ${process.version}`);
  console.log(`server RSS: baseline ${baseline.toFixed(0)} MB, peak ${mb(peak)} (${peak <= LIMIT_MB ? 'within' : 'OVER'} the ${LIMIT_MB} MB bound), at the end ${mb(end)}`);
  console.log(`kernel send queues of the server's sockets (not RSS): peak ${kernel.toFixed(1)} MB, ${(kernel / STREAMS).toFixed(2)} MB a stream`);
  console.log(`runs by status: ${runs.map((r) => `${r.status} ${r.n}`).join(', ')}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
