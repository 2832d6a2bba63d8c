import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_DATABASE_URL } from './env.ts';
import { freePort, until } from './processes.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const running = new Set<ChildProcess>();
// A worker that dies must not leave servers behind.
process.once('exit', () => running.forEach((c) => c.kill('SIGKILL')));

/** Every replica of a test shares it, as replicas behind one load balancer do (cookies made by one are read by another). */
const SECRET_KEY = 'replica-secret-replica-secret-replica-secret-0123';

/** `tessera-server start` in a process of its own: what a load balancer would send requests to. */
export interface ReplicaProcess {
  readonly name: string;
  readonly url: string;
  /** Its connections to Redis carry it in their names (CLIENT LIST). */
  readonly pid: number;
  /** The last lines it logged (warnings and errors, JSON). */
  log(): string;
  close(): Promise<void>;
}

/**
 * Starts a replica on the test database and the given Redis settings (`REDIS_URL` is
 * cleared: exactly one deployment may be set) and resolves once `/_health` answers 200.
 */
export async function startReplica(name: string, redisEnv: Record<string, string>, env: Record<string, string> = {}): Promise<ReplicaProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), `tessera-${name}-`));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      PORT: String(port),
      PUBLIC_URL: url,
      DATA_DIR: dataDir,
      DATABASE_URL: TEST_DATABASE_URL,
      SECRET_KEY,
      PASSWORD_HASH_MEMORY_KIB: '1024',
      PASSWORD_HASH_TIME_COST: '1',
      REDIS_URL: '',
      ...redisEnv,
      ...env,
    },
  });
  running.add(child);
  let out = '';
  const keep = (d: Buffer) => (out = (out + String(d)).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(forced);
    }
    running.delete(child);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const serving = until(async () => (await fetch(`${url}/openapi/v1/_health`, { signal: AbortSignal.timeout(2_000) })).status === 200, `replica ${name} to serve`, 90_000, 100);
    await Promise.race([serving, exited.then(() => Promise.reject(new Error(`replica ${name} exited`)))]);
  } catch (err) {
    await close();
    throw new Error(`${(err as Error).message}\n${out.slice(-2_000)}`);
  }
  return { name, url, pid: child.pid!, log: () => out, close };
}
