// RFC 6749 §6 from the client side: a stored device login renews its access token with its
// refresh token, one tessera process at a time (docs/cli.md, "Staying logged in").
import { CLIENT_ID, postForm, type IssuedToken } from './device-login.ts';
import type { DpopKey } from './dpop-key.ts';
import { CliError, EXIT, network } from './errors.ts';
import type { HostLogin, HostsStore } from './hosts-file.ts';

/** An access token this close to its expiry is renewed before it is used. */
const EARLY_MS = 60_000;
/** A server that accepted the connection gets this long to answer a refresh. */
const REFRESH_TIMEOUT_MS = 15_000;

export const expiresSoon = (at: string | null | undefined, now = Date.now()): boolean => at != null && Date.parse(at) - now < EARLY_MS;

/** Whether a token response bound the tokens to the key of the request's proof (RFC 9449 §5: token_type DPoP, in any case). */
export const isBound = (issued: IssuedToken): boolean => issued.token_type?.toLowerCase() === 'dpop';

/** What a token response stores: both tokens and both expiries, as absolute times, and the key they are bound to. */
export function loginFrom(issued: IssuedToken, email: string, key: DpopKey | null, now = Date.now()): HostLogin {
  const login: HostLogin = { token: issued.access_token, expires_at: new Date(now + issued.expires_in * 1000).toISOString(), email };
  if (key && isBound(issued)) login.dpop_jkt = key.jkt;
  if (issued.refresh_token) {
    login.refresh_token = issued.refresh_token;
    login.refresh_expires_at = issued.refresh_token_expires_in ? new Date(now + issued.refresh_token_expires_in * 1000).toISOString() : null;
  }
  return login;
}

export interface RefreshContext {
  hosts: HostsStore;
  host: string;
  /** The access token the caller has (about to expire, or just answered token_expired). */
  seen: string;
  /** The error for "log in again", with the command that does it. */
  needLogin: (why: string) => CliError;
  /** Called once when another tessera process holds the lock. */
  onWait: () => void;
  /** A bound login's key: the refresh carries a proof of it. */
  key: DpopKey | null;
}

/**
 * Renews the stored login of `host` under the lock beside hosts.yml. A process that waited
 * for the lock finds the tokens another one stored meanwhile and uses them, so one session
 * is refreshed once: its refresh token rotates on every use, and the server takes a second
 * use of a spent one as theft.
 */
export function refreshStoredLogin(c: RefreshContext): Promise<HostLogin> {
  return c.hosts.update(async (data) => {
    const current = data.hosts[c.host];
    if (!current?.refresh_token) throw c.needLogin(`Not logged in to ${c.host}.`);
    if (current.token !== c.seen && !expiresSoon(current.expires_at)) return current;
    if (current.refresh_expires_at && Date.parse(current.refresh_expires_at) <= Date.now()) throw c.needLogin(`Your login for ${c.host} has expired.`);
    const renewed = loginFrom(await refreshGrant(c, current.refresh_token), current.email, c.key);
    data.hosts[c.host] = renewed;
    return renewed;
  }, c.onWait);
}

async function refreshGrant(c: RefreshContext, refreshToken: string): Promise<IssuedToken> {
  const url = `${c.host}/openapi/v1/oauth/token`;
  let r;
  try {
    r = await postForm(url, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID }, AbortSignal.timeout(REFRESH_TIMEOUT_MS), c.key);
  } catch (err) {
    throw network(c.host, err);
  }
  if (r.status === 200 && typeof r.body.access_token === 'string' && Number(r.body.expires_in) > 0) return r.body as unknown as IssuedToken;
  const why = `${String(r.body.error ?? r.status)}: ${String(r.body.error_description ?? 'no details')}`;
  // invalid_grant: the session ended (signed out, revoked, expired, offboarded); only a new login helps.
  if (r.status === 400 || r.status === 401) throw c.needLogin(`Your login for ${c.host} has ended (${why}).`);
  throw new CliError(EXIT.api, `Could not renew the login for ${c.host}: ${why}`);
}
