import { apiClient, type ApiClient, type RenewableToken } from '../api.ts';
import { MissingKey } from '../dpop-key.ts';
import { CliError, EXIT, networkCode } from '../errors.ts';
import { command, type CliContext } from '../session.ts';
import { out, terminalSafe, when } from '../term.ts';
import { describeKind, tokenKind, type TokenKindName } from '../token-kind.ts';

/** What `GET /me` said about one token, now. */
type State = 'valid' | 'rejected' | 'unreachable' | 'error';

interface HostStatus {
  host: string;
  /** The host commands talk to without --host. */
  current: boolean;
  source: 'hosts.yml' | 'TESSERA_TOKEN';
  /** Whether commands on this host use this token (TESSERA_TOKEN overrides every stored login). */
  in_use: boolean;
  email: string | null;
  token_kind: TokenKindName;
  expires_at: string | null;
  /** A device login's refresh token: until when it renews the access token (each renewal moves this on). */
  refresh_token_expires_at: string | null;
  /** Whether the login is bound to this machine's key (DPoP): its tokens work only with proofs of that key. */
  dpop_bound: boolean;
  state: State;
  accepted: boolean;
  error: string | null;
}

/** A host that never answers must not hold the whole report up. */
const CHECK_TIMEOUT_MS = 5_000;

async function check(client: () => Promise<ApiClient>): Promise<Pick<HostStatus, 'state' | 'error' | 'email' | 'expires_at'>> {
  try {
    const { data, error, response } = await (await client()).GET('/me', { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    if (data) return { state: 'valid', error: null, email: data.email, expires_at: data.expires_at };
    const code = (error as { error?: string } | undefined)?.error ?? `http_${response.status}`;
    return { state: response.status === 401 ? 'rejected' : 'error', error: code, email: null, expires_at: null };
  } catch (err) {
    // The login's key is gone, or renewing it failed: the server ended the session (invalid_grant), or answered with an error.
    if (err instanceof CliError) {
      const state = err.exitCode === EXIT.auth ? 'rejected' : err.exitCode === EXIT.network ? 'unreachable' : 'error';
      const code = err instanceof MissingKey ? 'dpop_key_missing' : 'invalid_grant';
      return { state, error: state === 'rejected' ? code : 'refresh_failed', email: null, expires_at: null };
    }
    const code = (err as Error)?.name === 'TimeoutError' ? 'timeout' : networkCode(err);
    return { state: 'unreachable', error: code, email: null, expires_at: null };
  }
}

/** `tessera auth status`: every stored login (and TESSERA_TOKEN), and whether its server accepts it now. */
export async function authStatus(ctx: CliContext): Promise<void> {
  const file = await ctx.logins();
  const current = await ctx.host();
  const env = process.env.TESSERA_TOKEN?.trim();
  type Entry = { host: string; token: string; source: HostStatus['source']; email: string | null; expires_at: string | null; bound: boolean; presented: () => Promise<string | RenewableToken> };
  const entries: Entry[] = [];
  if (env) entries.push({ host: current, token: env, source: 'TESSERA_TOKEN', email: null, expires_at: null, bound: false, presented: async () => env });
  for (const [host, login] of Object.entries(file.hosts)) {
    const presented = async () => {
      const key = await ctx.keyOf(host, login);
      return login.refresh_token !== undefined ? ctx.renewable(host, login.token, key) : { token: login.token, key };
    };
    entries.push({ host, token: login.token, source: 'hosts.yml', email: login.email, expires_at: login.expires_at, bound: login.dpop_jkt !== undefined, presented });
  }

  // A device login whose access token has expired is renewed by this check, as by any command; one whose key is gone is rejected here.
  const checked = await Promise.all(entries.map((e) => check(async () => apiClient(e.host, await e.presented()))));
  const after = (await ctx.hosts.read()).hosts;
  const statuses: HostStatus[] = entries.map((e, i) => {
    const now = checked[i]!;
    return {
      host: e.host,
      current: e.host === current,
      source: e.source,
      // TESSERA_TOKEN overrides the stored login on every host, not just the current one.
      in_use: e.source === 'TESSERA_TOKEN' || !env,
      email: now.email ?? e.email,
      token_kind: tokenKind(e.token),
      expires_at: now.state === 'valid' ? now.expires_at : e.expires_at,
      refresh_token_expires_at: e.source === 'hosts.yml' ? (after[e.host]?.refresh_expires_at ?? null) : null,
      dpop_bound: e.bound,
      state: now.state,
      accepted: now.state === 'valid',
      error: now.error,
    };
  });
  if (statuses.length || ctx.json) ctx.print(statuses.map((s) => describe(ctx, s)).join('\n\n'), { hosts: statuses });
  if (!statuses.length) throw new CliError(EXIT.auth, 'Not logged in to any host.', `Run \`${ctx.cmd('login')}\`.`);
  const worst = statuses.some((s) => s.state === 'rejected') ? EXIT.auth : statuses.some((s) => s.state === 'error') ? EXIT.api : statuses.some((s) => s.state === 'unreachable') ? EXIT.network : EXIT.ok;
  if (worst !== EXIT.ok) {
    const bad = statuses.filter((s) => !s.accepted).length;
    throw new CliError(worst, `${bad} of ${statuses.length} login${statuses.length > 1 ? 's' : ''} ${bad > 1 ? 'are' : 'is'} not usable right now (see above).`);
  }
}

function describe(ctx: CliContext, checked: HostStatus): string {
  // The email and error code are the server's words.
  const s = terminalSafe(checked);
  const tags = [s.current ? 'current' : '', s.source === 'TESSERA_TOKEN' ? 'from TESSERA_TOKEN' : '', !s.in_use ? 'not in use: TESSERA_TOKEN overrides it' : '']
    .filter(Boolean)
    .join('; ');
  const login = s.current ? ctx.cmd('login') : command('login', '--host', s.host);
  const status =
    s.state === 'valid'
      ? `${out.green('✓')} accepted by the server`
      : s.state === 'rejected'
        ? `${out.red('✗')} rejected by the server (${s.error}). ${
            s.source === 'TESSERA_TOKEN' ? 'TESSERA_TOKEN is the token in use: set it to a valid token, or unset it.' : `Run \`${login}\`.`
          }`
        : s.state === 'unreachable'
          ? `${out.yellow('!')} could not reach the server (${s.error}). Is the server running at ${s.host}?`
          : `${out.red('✗')} the server answered with an error (${s.error}).`;
  return [
    `${out.bold(s.host)}${tags ? `  (${tags})` : ''}`,
    `  User:     ${s.email ?? '(unknown)'}`,
    `  Token:    ${describeKind(s.token_kind)}`,
    `  Bound:    ${s.dpop_bound ? "yes, to this machine's key (DPoP): a copy of the token is useless elsewhere" : 'no, a bearer token: whoever holds it can use it'}`,
    `  Expires:  ${s.expires_at ? when(s.expires_at) : s.accepted ? 'never' : 'unknown'}`,
    s.refresh_token_expires_at ? `  Renews:   until ${when(s.refresh_token_expires_at)} with the refresh token (each use moves this on)` : '',
    `  Status:   ${status}`,
  ]
    .filter(Boolean)
    .join('\n');
}
