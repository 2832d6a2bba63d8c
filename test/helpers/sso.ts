import type { Config } from '../../src/config.ts';
import { DevIdp, type IdpAccount } from '../../scripts/idp.ts';
import { clientIp, poll, startFlow, type DeviceStart } from './device.ts';
import { uniq } from './fixtures.ts';
import { startServer, type TestServer, type TestServerOptions } from './server.ts';

export const CLIENT_SECRET = 'test-client-secret';

/** A verified IdP user with a unique email, so tests never share a subject. */
export function idpUser(over: Partial<IdpAccount> = {}): IdpAccount {
  const id = uniq();
  return { login: `user-${id}`, email: `sso-${id}@corp.example`, email_verified: true, name: `SSO User ${id}`, ...over };
}

export interface SsoPair {
  idp: DevIdp;
  server: TestServer;
  close(): Promise<void>;
}

/** Where Tessera hears the IdP's back-channel logouts (OpenID Connect Back-Channel Logout 1.0). */
export const backchannelLogoutUri = (url: string) => `${url}/openapi/v1/oauth/sso/backchannel-logout`;

/**
 * A real oidc-provider and a Tessera in the enterprise edition that discovers it. The IdP
 * knows two clients with Tessera's redirect URI: `tessera` (Tessera's own, with its
 * back-channel logout URI, asking for the IdP's `sid`) and `other`.
 */
export async function startSsoPair(opts: { idp?: DevIdp; server?: TestServerOptions; sso?: Partial<NonNullable<Config['sso']>> } = {}): Promise<SsoPair> {
  const idp = opts.idp ?? (await DevIdp.listen());
  const server = await startServer({
    ...opts.server,
    async configFor(url) {
      const client = (client_id: string) => ({
        client_id,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${url}/device/sso-complete`],
        grant_types: ['authorization_code'],
        response_types: ['code' as const],
        token_endpoint_auth_method: 'client_secret_post' as const,
      });
      const tessera = { ...client('tessera'), backchannel_logout_uri: backchannelLogoutUri(url), backchannel_logout_session_required: true };
      if (!idp.provider) await idp.configure({ clients: [tessera, client('other')] });
      return {
        edition: 'enterprise',
        ssoAllowInsecureHttp: true,
        sso: {
          issuer: idp.issuer,
          clientId: 'tessera',
          clientSecret: CLIENT_SECRET,
          scopes: ['openid', 'email', 'profile'],
          displayName: 'Corp SSO',
          discoveryRetryMs: 30_000,
          ...opts.sso,
        },
        ...opts.server?.config,
      };
    },
  });
  return {
    idp,
    server,
    async close() {
      await server.close();
      if (!opts.idp) await idp.close();
    },
  };
}

interface StoredCookie {
  value: string;
  path: string;
}

/**
 * A minimal browser for fetch: a cookie jar per host (honouring Path and Max-Age=0) and
 * manual redirects, so each hop can be inspected.
 */
export class Agent {
  private readonly jar = new Map<string, Map<string, StoredCookie>>();
  readonly headers: Record<string, string>;

  constructor(headers: Record<string, string> = clientIp()) {
    this.headers = headers;
  }

  cookies(url: string): string {
    const u = new URL(url);
    const host = this.jar.get(u.host) ?? new Map<string, StoredCookie>();
    return [...host].filter(([, c]) => u.pathname.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`).join('; ');
  }

  cookie(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).host)?.get(name)?.value;
  }

  setCookie(url: string, name: string, value: string, path = '/'): void {
    const host = new URL(url).host;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    this.jar.get(host)!.set(name, { value, path });
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const cookie = this.cookies(url);
    const res = await fetch(url, {
      redirect: 'manual',
      ...init,
      headers: { ...this.headers, ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string> | undefined) },
    });
    const host = new URL(url).host;
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((p) => p.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const path = attrs.find((a) => /^path=/i.test(a))?.slice(5) ?? '/';
      const gone = attrs.some((a) => /^max-age=0$/i.test(a)) || value === '';
      if (!this.jar.has(host)) this.jar.set(host, new Map());
      if (gone) this.jar.get(host)!.delete(name);
      else this.jar.get(host)!.set(name, { value, path });
    }
    return res;
  }

  /** Follows redirects until `stop(url)` or a non-redirect answer; returns the last response and its URL. */
  async follow(url: string, stop: (url: string) => boolean = () => false, init: RequestInit = {}): Promise<{ res: Response; url: string }> {
    let current = url;
    let res = await this.fetch(current, init);
    for (let hops = 0; hops < 15 && res.status >= 300 && res.status < 400; hops++) {
      current = new URL(res.headers.get('location')!, current).href;
      if (stop(current)) return { res, url: current };
      res = await this.fetch(current);
    }
    return { res, url: current };
  }
}

export const initiateUrl = (server: TestServer, userCode: string) => `${server.url}/openapi/v1/oauth/device/sso-initiate?user_code=${encodeURIComponent(userCode)}`;

/** sso-initiate: the IdP authorization URL Tessera redirects to (the binding cookie lands in the agent). */
export async function initiate(agent: Agent, server: TestServer, userCode: string): Promise<URL> {
  const res = await agent.fetch(initiateUrl(server, userCode));
  if (res.status !== 302) throw new Error(`sso-initiate: ${res.status} ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

/**
 * At the IdP: signs in on its development pages as `login` (the password is ignored) and
 * returns the redirect back to Tessera (`…/device/sso-complete?code&state&iss`), unfollowed.
 */
export async function signInAtIdp(agent: Agent, authorizationUrl: URL | string, login: string, callbackPrefix: string): Promise<string> {
  const atCallback = (u: string) => u.startsWith(callbackPrefix);
  const first = await agent.follow(String(authorizationUrl), atCallback);
  if (atCallback(first.url)) return first.url;
  const uid = first.url.match(/\/interaction\/([^/?#]+)/)?.[1];
  if (!uid || first.res.status !== 200) throw new Error(`IdP sign-in page expected, got ${first.res.status} at ${first.url}`);
  const body = new URLSearchParams({ prompt: 'login', login, password: 'any' }).toString();
  const done = await agent.follow(first.url, atCallback, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  if (!atCallback(done.url)) throw new Error(`IdP did not return to Tessera: ${done.res.status} at ${done.url}: ${await done.res.text()}`);
  return done.url;
}

/** At the IdP: the user presses Cancel on the sign-in page; returns the redirect back to Tessera. */
export async function cancelAtIdp(agent: Agent, authorizationUrl: URL | string, callbackPrefix: string): Promise<string> {
  const atCallback = (u: string) => u.startsWith(callbackPrefix);
  const first = await agent.follow(String(authorizationUrl), atCallback);
  const done = await agent.follow(`${first.url}/abort`, atCallback);
  if (!atCallback(done.url)) throw new Error(`IdP did not return to Tessera: ${done.res.status} at ${done.url}`);
  return done.url;
}

export interface ApprovalContext {
  client_id: string;
  device_label: string;
  user_code: string;
  subject_email: string;
  subject_issuer: string;
  expires_in_remaining: number;
  csrf_token: string;
}

export const callbackPrefix = (server: TestServer) => `${server.url}/device/sso-complete`;

/** The whole browser side up to the approval grant: initiate, sign in at the IdP, land on /device. */
export async function signInWithSso(agent: Agent, server: TestServer, userCode: string, login: string): Promise<ApprovalContext> {
  const auth = await initiate(agent, server, userCode);
  const callback = await signInAtIdp(agent, auth, login, callbackPrefix(server));
  const done = await agent.fetch(callback);
  if (done.status !== 303 || done.headers.get('location') !== '/device') throw new Error(`sso-complete: ${done.status} ${await done.text()}`);
  const ctx = await agent.fetch(`${server.url}/openapi/v1/oauth/device/approval-context`);
  if (ctx.status !== 200) throw new Error(`approval-context: ${ctx.status} ${await ctx.text()}`);
  return (await ctx.json()) as ApprovalContext;
}

export function decideExternal(agent: Agent, server: TestServer, decision: 'approve' | 'deny', userCode: string, csrf: string | undefined) {
  return agent.fetch(`${server.url}/openapi/v1/oauth/device/${decision}-external`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(csrf !== undefined ? { 'x-csrf-token': csrf } : {}) },
    body: JSON.stringify({ user_code: userCode }),
  });
}

/**
 * A device flow approved through the IdP; returns the tse_ token the poll collects, its refresh
 * token (null with OAUTH_REFRESH_TOKENS=false), and the browser still signed in at the IdP.
 */
export async function ssoLogin(
  pair: SsoPair,
  user: IdpAccount,
  params: Record<string, string> = {},
): Promise<{ token: string; refresh: string | null; flow: DeviceStart; scope: string; browser: Agent }> {
  pair.idp.accounts.set(user.login, user);
  const flow = await startFlow(pair.server, params);
  const agent = new Agent();
  const ctx = await signInWithSso(agent, pair.server, flow.user_code, user.login);
  const decided = await decideExternal(agent, pair.server, 'approve', ctx.user_code, ctx.csrf_token);
  if (decided.status !== 200) throw new Error(`approve-external: ${decided.status} ${await decided.text()}`);
  const res = await poll(pair.server, flow.device_code);
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { access_token: string; scope: string; refresh_token?: string };
  return { token: body.access_token, refresh: body.refresh_token ?? null, flow, scope: body.scope, browser: agent };
}

/**
 * The person signs out at the IdP (RP-Initiated Logout's page: confirm "Yes, sign me out").
 * oidc-provider posts its logout tokens to the clients' back-channel URIs before it answers.
 */
export async function signOutAtIdp(browser: Agent, idp: DevIdp): Promise<void> {
  const page = await browser.fetch(`${idp.issuer}/session/end`);
  const xsrf = (await page.text()).match(/name="xsrf" value="([^"]+)"/)?.[1];
  if (page.status !== 200 || !xsrf) throw new Error(`IdP sign-out page expected, got ${page.status}`);
  const done = await browser.fetch(`${idp.issuer}/session/end/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
  });
  if (done.status >= 400) throw new Error(`IdP sign-out: ${done.status} ${await done.text()}`);
}
