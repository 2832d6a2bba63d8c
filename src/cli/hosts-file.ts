import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';

export interface HostLogin {
  token: string;
  expires_at: string | null;
  email: string;
}

interface HostsFile {
  current_host?: string;
  hosts: Record<string, HostLogin>;
}

/** `$TESSERA_CONFIG_DIR` or `~/.config/tessera`; hosts.yml holds one login per host. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TESSERA_CONFIG_DIR || path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'tessera');
}

export class HostsStore {
  readonly file: string;

  constructor(
    private readonly dir: string,
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
    const data = await this.read();
    data.hosts[host] = login;
    data.current_host = host;
    await this.write(data);
  }

  async remove(host: string): Promise<void> {
    const data = await this.read();
    // current_host stays: later commands keep talking to (and naming) the host you logged out of.
    delete data.hosts[host];
    await this.write(data);
  }

  /**
   * Folder 0700, file 0600, written to a temporary file and renamed over the old
   * one, so a crash never leaves a half-written file and no other user can read it.
   */
  private async write(data: HostsFile): Promise<void> {
    // A folder we create is 0700; our own default folder is tightened too. A folder the
    // user named in TESSERA_CONFIG_DIR that already exists keeps its mode (the file is 0600 anyway).
    const created = await mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (created !== undefined || this.tighten) await chmod(this.dir, 0o700);
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
}
