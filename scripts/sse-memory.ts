/**
 * npx tsx scripts/sse-memory.ts — how much memory streaming runs hold when their
 * clients never read. Runs Tessera in a child process as in production (its own
 * redis-server, DATABASE_URL's Postgres), opens SSE_STREAMS streaming chat runs
 * (echo model, a 100,000-character query: about 10 MB of events each) whose
 * sockets never read, and samples the server's RSS for SSE_SECONDS. A measurement,
 * printed; nothing here asserts a timing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { createApp as insertApp } from '../src/admin/apps-admin.ts';
import { generateToken, hashToken } from '../src/auth/token-kinds.ts';
import { Database } from '../src/storage/db.ts';
import { migrate } from '../src/storage/migrate.ts';
import { AccountRepo } from '../src/storage/repos/accounts.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const STREAMS = Number(process.env.SSE_STREAMS ?? 20);
const SECONDS = Number(process.env.SSE_SECONDS ?? 10);
const QUERY = 'w '.repeat(50_000);

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function start(cmd: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${out.slice(-2000)}`)));
  });
}

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
  const db = new Database(DATABASE_URL);
  await migrate(db);
  const accounts = new AccountRepo(db);
  const account = await accounts.create(`sse-memory-${Date.now()}@example.test`, 'SSE memory', null);
  const ws = await accounts.createWorkspace('SSE memory');
  await accounts.addMember(account.id, ws.id, 'owner');
  const app = await insertApp(db, { workspaceId: ws.id, name: 'SSE memory', mode: 'chat', config: { model: { provider: 'echo', name: 'e' } } });
  const token = generateToken('tsa_');
  await db.query(
    `INSERT INTO oauth_access_tokens (token_hash, prefix, subject_email, subject_issuer, account_id, client_id, device_label, expires_at)
     VALUES ($1, 'tsa_', $2, 'tessera:account', $3, 'sse-memory', 'sse-memory', now() + interval '1 day')`,
    [hashToken(token), account.email, account.id],
  );

  const redisPort = await freePort();
  await start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, /Ready to accept/);
  const port = await freePort();
  const server = await start(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', 'start'],
    {
      PORT: String(port),
      DATABASE_URL,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      NODE_ENV: 'production',
      SECRET_KEY: 'sse-memory-secret-sse-memory-secret-0123',
      OPENAPI_RATE_LIMIT_PER_TOKEN: '1000000',
      LOG_LEVEL: 'warn',
    },
    /Tessera is running/,
  );
  const path = `/openapi/v1/apps/${app.id}/chat-messages`;
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
  const runs = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM messages WHERE app_id = $1 GROUP BY status', [app.id]);
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
