import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/server/free-port.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Every process that still carries this DATA_DIR, in its environment (npm, sh, node, Postgres) or its command line. */
function processesOf(dataDir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (environ.split('\0').includes(`DATA_DIR=${dataDir}`) || cmdline.includes(dataDir)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function dataDir(): string {
  const parent = mkdtempSync(path.join(tmpdir(), 'tessera-signal-'));
  chmodSync(parent, 0o755);
  dirs.push(parent);
  return path.join(parent, '.tessera');
}

/** Starts a command with no DATABASE_URL/REDIS_URL (embedded Postgres) and waits for the banner. */
async function run(cmd: string, args: string[], env: Record<string, string>) {
  const clean = { ...process.env };
  delete clean.DATABASE_URL;
  delete clean.REDIS_URL;
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...clean, LOG_LEVEL: 'info', ...env } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('Tessera is running') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  expect(out).toContain('Tessera is running');
  return { child, exit, output: () => out };
}

beforeAll(async () => {
  // The production entry point is the build: make it (incremental, a few seconds when fresh).
  await new Promise<void>((resolve, reject) =>
    execFile('npm', ['run', 'build'], { cwd: ROOT }, (err, _out, stderr) => (err ? reject(new Error(`npm run build failed: ${stderr}`)) : resolve())),
  );
}, 180_000);

describe('signals', () => {
  it('when the production entry point (node dist/src/main.js, no TypeScript loader) gets SIGTERM, then it exits 0 and leaves no process behind, the embedded Postgres included', async () => {
    const dir = dataDir();
    const port = await freePort();
    const server = await run(process.execPath, ['dist/src/main.js', 'start'], { DATA_DIR: dir, PORT: String(port), NODE_ENV: 'production', SECRET_KEY: 'signal-test-secret-key-0123456789abcdef' });
    expect((await fetch(`http://127.0.0.1:${port}/openapi/v1/_health`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    // Production logs stay JSON (one object per line on stderr).
    expect(server.output()).toMatch(/^\{"level":30,.*"msg":"tessera listening"\}$/m);
    expect(processesOf(dir).some((p) => p.includes('/bin/postgres'))).toBe(true);

    server.child.kill('SIGTERM');
    expect(await server.exit).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
    expect(processesOf(dir)).toEqual([]);
  }, 90_000);

  it('when `npm start` gets SIGTERM on its own pid (as Docker or systemd send it), then the server shuts down in order and nothing is left running', async () => {
    const dir = dataDir();
    const port = await freePort();
    const npm = await run('npm', ['start'], { DATA_DIR: dir, PORT: String(port) });
    expect((await fetch(`http://127.0.0.1:${port}/openapi/v1/_health`)).status).toBe(200);
    expect(processesOf(dir).length).toBeGreaterThanOrEqual(3); // npm, node, postgres

    npm.child.kill('SIGTERM');
    await npm.exit;
    expect(npm.output()).toContain('"msg":"stopped"');
    expect(processesOf(dir)).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/openapi/v1/_health`)).rejects.toThrow();
  }, 90_000);
});
