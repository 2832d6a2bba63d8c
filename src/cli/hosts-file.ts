import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { parse, stringify } from 'yaml';

export interface HostLogin {
  /** The access token (or an API key, or a token given with --with-token). */
  token: string;
  expires_at: string | null;
  email: string;
  /** A device login's `tsr_` refresh token, when the server issued one, and when it lapses unless used. */
  refresh_token?: string;
  refresh_expires_at?: string | null;
  /** A login bound to this machine's DPoP key for the host (`keys/`): the key's thumbprint. Absent: bearer tokens. */
  dpop_jkt?: string;
}

export interface HostsFile {
  current_host?: string;
  hosts: Record<string, HostLogin>;
}

/** `$TESSERA_CONFIG_DIR` or `~/.config/tessera`; hosts.yml holds one login per host. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TESSERA_CONFIG_DIR || path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'tessera');
}

/** A lock whose holder stopped refreshing it (a killed process) is taken over after this long. */
const LOCK_STALE_MS = 10_000;
const LOCK_POLL_MS = 100;

export class HostsStore {
  readonly file: string;

  constructor(
    readonly dir: string,
    private readonly tighten = false,
  ) {
    this.file = path.join(dir, 'hosts.yml');
  }

  async read(): Promise<HostsFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { hosts: {} };
      throw err;
    }
    const data = (parse(text) ?? {}) as Partial<HostsFile>;
    return { current_host: data.current_host, hosts: data.hosts ?? {} };
  }

  async save(host: string, login: HostLogin): Promise<void> {
    await this.update((data) => {
      data.hosts[host] = login;
      data.current_host = host;
    });
  }

  async remove(host: string): Promise<void> {
    // current_host stays: later commands keep talking to (and naming) the host you logged out of.
    await this.update((data) => void delete data.hosts[host]);
  }

  /**
   * Reads the file, lets `change` edit it (it may also wait on the network: a refresh), and
   * writes it back, all while holding `hosts.yml.lock` beside it, so two tessera processes
   * never change the file, or refresh one login, at once. A process that finds the lock
   * taken calls `onWait` once and waits (a lock left by a killed process is stale after 10 s).
   * Nothing is written when `change` throws.
   */
  async update<T>(change: (data: HostsFile) => T | Promise<T>, onWait?: () => void): Promise<T> {
    await this.ensureDir();
    const release = await this.lock(onWait);
    try {
      const data = await this.read();
      const result = await change(data);
      await this.write(data);
      return result;
    } finally {
      await release().catch(() => undefined);
    }
  }

  private async lock(onWait?: () => void): Promise<() => Promise<void>> {
    const options = { realpath: false, stale: LOCK_STALE_MS, onCompromised: () => undefined };
    try {
      return await lockfile.lock(this.file, options);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    }
    onWait?.();
    // Longer than a stale lock lives, so a holder that was killed cannot make us give up.
    return lockfile.lock(this.file, { ...options, retries: { retries: (3 * LOCK_STALE_MS) / LOCK_POLL_MS, factor: 1, minTimeout: LOCK_POLL_MS, maxTimeout: LOCK_POLL_MS } });
  }

  /**
   * Folder 0700, file 0600, written to a temporary file and renamed over the old
   * one, so a crash never leaves a half-written file and no other user can read it.
   */
  private async write(data: HostsFile): Promise<void> {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(stringify(data));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  private async ensureDir(): Promise<void> {
    // A folder we create is 0700; our own default folder is tightened too. A folder the
    // user named in TESSERA_CONFIG_DIR that already exists keeps its mode (the file is 0600 anyway).
    const created = await mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (created !== undefined || this.tighten) await chmod(this.dir, 0o700);
  }
}
