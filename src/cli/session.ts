import { apiClient, type ApiClient } from './api.ts';
import { needLogin, usage } from './errors.ts';
import { configDir, HostsStore, type HostLogin } from './hosts-file.ts';

export const DEFAULT_HOST = 'http://localhost:8080';

export interface GlobalOptions {
  host?: string;
  json?: boolean;
}

/** Normalises a host: a scheme is required and the trailing slash is dropped. */
export function normalizeHost(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usage(`Not a URL: ${raw} (expected e.g. https://tessera.example.com).`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`The host must be http(s): ${raw}`);
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** Who the CLI talks to and as whom: --host > TESSERA_HOST > last login; TESSERA_TOKEN > stored login. */
export class CliContext {
  readonly hosts = new HostsStore(configDir(), !process.env.TESSERA_CONFIG_DIR);
  private stored: ReturnType<HostsStore['read']> | undefined;

  constructor(readonly opts: GlobalOptions) {}

  /** The stored logins as this command started: read once, however many lookups need them. */
  login(host: string): Promise<HostLogin | undefined> {
    return this.logins().then((f) => f.hosts[host]);
  }

  private logins(): ReturnType<HostsStore['read']> {
    this.stored ??= this.hosts.read();
    return this.stored;
  }

  get json(): boolean {
    return this.opts.json === true;
  }

  async host(): Promise<string> {
    const explicit = this.opts.host ?? process.env.TESSERA_HOST;
    if (explicit) return normalizeHost(explicit);
    return (await this.logins()).current_host ?? DEFAULT_HOST;
  }

  async token(host: string): Promise<string> {
    if (process.env.TESSERA_TOKEN) return process.env.TESSERA_TOKEN;
    const login = await this.login(host);
    if (!login) throw needLogin(host);
    if (login.expires_at && Date.parse(login.expires_at) <= Date.now()) throw needLogin(host, `Your login for ${host} has expired.`);
    return login.token;
  }

  async client(): Promise<{ host: string; api: ApiClient }> {
    const host = await this.host();
    return { host, api: apiClient(host, await this.token(host)) };
  }

  print(human: string, data: unknown): void {
    process.stdout.write(this.json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
  }
}
