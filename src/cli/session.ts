import { apiClient, type ApiClient, type RenewableToken } from './api.ts';
import { DpopKey, keyFile, MissingKey } from './dpop-key.ts';
import { CliError, EXIT, usage } from './errors.ts';
import { configDir, HostsStore, type HostLogin } from './hosts-file.ts';
import { expiresSoon, refreshStoredLogin } from './refresh.ts';
import { terminalJson } from './term.ts';

export const DEFAULT_HOST = 'http://localhost:8080';

export interface GlobalOptions {
  host?: string;
  json?: boolean;
}

/**
 * How the user started this CLI, so that hints name a command that works as typed:
 * `npx tessera` when run through npx, `npm run cli --` through the package script,
 * `tessera` otherwise.
 */
export function programName(env: NodeJS.ProcessEnv = process.env): string {
  if (env.npm_lifecycle_event === 'cli') return 'npm run cli --';
  if (env.npm_command === 'exec') return 'npx tessera';
  return 'tessera';
}

// Non-ASCII is not special to a shell, so a placeholder like `name=…` stays readable.
const quote = (arg: string) => (/^[\w@%+=:,./\u0080-\uffff-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/** `tessera <args…>` as the user would type it, each argument quoted for a POSIX shell when needed. */
export const command = (...args: string[]) => [programName(), ...args.map(quote)].join(' ');

const LOCAL = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/i;

/**
 * Normalises a host: http(s) only, the trailing slash dropped. A host typed without a
 * scheme (`localhost:8080`) gets a suggestion: http for loopback, https otherwise.
 */
export function normalizeHost(raw: string, fix: (suggested: string) => string): string {
  const trimmed = raw.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    const suggested = `${LOCAL.test(trimmed) ? 'http' : 'https'}://${trimmed.replace(/^\/+/, '')}`;
    throw usage(`${raw} has no scheme. Did you mean ${suggested}?`, fix(suggested.replace(/\/+$/, '')));
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw usage(`Not a URL: ${raw} (expected e.g. https://tessera.example.com).`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`The host must be http(s): ${raw}`);
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** Where the token in use came from: TESSERA_TOKEN, hosts.yml, or standard input (`login --with-token`). */
export type TokenSource = 'env' | 'stored' | 'stdin';

export interface Target {
  host: string;
  api: ApiClient;
  token: string;
  /** The key the login is bound to (DPoP), or null. */
  key: DpopKey | null;
  source: TokenSource;
}

/** Who the CLI talks to and as whom: --host > TESSERA_HOST > last login; TESSERA_TOKEN > stored login. */
export class CliContext {
  readonly hosts = new HostsStore(configDir(), !process.env.TESSERA_CONFIG_DIR);
  private stored: ReturnType<HostsStore['read']> | undefined;

  constructor(
    readonly opts: GlobalOptions,
    /** The command line after the program name, to repeat it in hints. */
    readonly argv: string[] = process.argv.slice(2),
  ) {}

  /** The stored logins as this command started: read once, however many lookups need them. */
  login(host: string): Promise<HostLogin | undefined> {
    return this.logins().then((f) => f.hosts[host]);
  }

  logins(): ReturnType<HostsStore['read']> {
    this.stored ??= this.hosts.read();
    return this.stored;
  }

  get json(): boolean {
    return this.opts.json === true;
  }

  async host(): Promise<string> {
    if (this.opts.host) return normalizeHost(this.opts.host, (fixed) => `Run \`${this.retypedWithHost(fixed)}\`.`);
    const env = process.env.TESSERA_HOST;
    if (env) return normalizeHost(env, (fixed) => `Set TESSERA_HOST=${fixed}, or pass --host ${fixed}.`);
    return (await this.logins()).current_host ?? DEFAULT_HOST;
  }

  /** `tessera <sub…>`, with `--host` when the user named one on the command line (the shell keeps the env). */
  cmd(...args: string[]): string {
    return command(...args, ...(this.opts.host ? ['--host', this.opts.host] : []));
  }

  /** This very command line with the --host value replaced. */
  private retypedWithHost(host: string): string {
    const args = this.argv.flatMap((a, i, all) => {
      if (a.startsWith('--host=')) return [`--host=${host}`];
      if (all[i - 1] === '--host') return [host];
      return [a];
    });
    return command(...args);
  }

  /** Exit 2 with the login command that fixes it. */
  needLogin(host: string, why = `Not logged in to ${host}.`): CliError {
    return new CliError(EXIT.auth, why, `Run \`${this.cmd('login')}\`.`);
  }

  /**
   * The token to send: TESSERA_TOKEN as it is (a plain access token, never refreshed, always
   * Bearer), else the stored login's, renewed first when it has a refresh token and is about
   * to expire, with the key it is bound to (DPoP) when it is.
   */
  async token(host: string): Promise<{ token: string; source: TokenSource; renewable: boolean; key: DpopKey | null }> {
    if (process.env.TESSERA_TOKEN) return { token: process.env.TESSERA_TOKEN.trim(), source: 'env', renewable: false, key: null };
    const login = await this.login(host);
    if (!login) throw this.needLogin(host);
    const key = await this.keyOf(host, login);
    if (login.refresh_token) {
      const token = expiresSoon(login.expires_at) ? (await this.refresh(host, login.token, key)).token : login.token;
      return { token, source: 'stored', renewable: true, key };
    }
    if (login.expires_at && Date.parse(login.expires_at) <= Date.now()) throw this.needLogin(host, `Your login for ${host} has expired.`);
    return { token: login.token, source: 'stored', renewable: false, key };
  }

  /** The key a stored login is bound to (null for a bearer login); a login whose key is gone or was replaced needs a new login. */
  async keyOf(host: string, login: HostLogin): Promise<DpopKey | null> {
    if (!login.dpop_jkt) return null;
    const key = await DpopKey.load(this.hosts.dir, host);
    if (key?.jkt !== login.dpop_jkt) {
      const { message, hint } = this.needLogin(host, `Your login for ${host} is bound to a key that is ${key ? 'no longer' : 'not'} in ${keyFile(this.hosts.dir, host)}.`);
      throw new MissingKey(EXIT.auth, message, hint);
    }
    return key;
  }

  async client(): Promise<Target> {
    const host = await this.host();
    const { token, source, renewable, key } = await this.token(host);
    const presented = renewable ? this.renewable(host, token, key) : key ? { token, key } : null;
    return {
      host,
      api: apiClient(host, presented ?? token),
      // The token in use now: a renewal during the command replaces it.
      get token() {
        return presented?.token ?? token;
      },
      key,
      source,
    };
  }

  /** A stored device login's token that renews itself after a 401 (docs/cli.md, "Staying logged in"). */
  renewable(host: string, token: string, key: DpopKey | null): RenewableToken {
    return {
      token,
      key,
      renew: async (used, error) => {
        if (error === 'token_expired') return (await this.refresh(host, used, key)).token;
        // Another tessera process may have renewed the login, which ends the token this one had.
        const stored = (await this.hosts.read()).hosts[host];
        return stored && stored.token !== used ? stored.token : null;
      },
    };
  }

  /** Renews the stored login (under the lock beside hosts.yml), or takes the one another process just stored. */
  private async refresh(host: string, seen: string, key: DpopKey | null): Promise<HostLogin> {
    const renewed = await refreshStoredLogin({
      hosts: this.hosts,
      host,
      seen,
      key,
      needLogin: (why) => this.needLogin(host, why),
      onWait: () => process.stderr.write(`Another tessera command is renewing the login for ${host}; waiting for it…\n`),
    });
    this.stored = undefined;
    return renewed;
  }

  print(human: string, data: unknown): void {
    process.stdout.write(this.json ? `${terminalJson(data)}\n` : `${human}\n`);
  }
}
