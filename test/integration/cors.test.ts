import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleSignin, decide, type ConsoleLogin } from '../helpers/console.ts';
import { startFlow } from '../helpers/device.ts';
import { createAccount, member } from '../helpers/fixtures.ts';
import { Agent, idpUser, signInWithSso, startSsoPair, type ApprovalContext, type SsoPair } from '../helpers/sso.ts';

// An allow-listed origin: the rules must hold even for it (it may be same-site and run hostile script).
const ORIGIN = 'https://app.example';
const OTHER = 'https://evil.example';

let pair: SsoPair;
let login: ConsoleLogin;
beforeAll(async () => {
  pair = await startSsoPair({ server: { config: { corsAllowOrigins: [ORIGIN] } } });
  login = await consoleSignin(pair.server, await createAccount(pair.server.db));
});
afterAll(() => pair.close());

const url = (path: string) => `${pair.server.url}${path}`;
const preflight = (path: string, origin = ORIGIN, method = 'POST') =>
  fetch(url(path), {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'content-type, x-csrf-token' },
  });

/** Every Access-Control-* header of an answer. */
const corsHeaders = (res: Response) => [...res.headers].filter(([name]) => name.startsWith('access-control-'));

/** A pending SSO sign-in: the approval-grant cookie in `agent`, the context (with its CSRF token) it unlocks. */
async function ssoGrant(): Promise<{ agent: Agent; ctx: ApprovalContext }> {
  const user = idpUser();
  pair.idp.accounts.set(user.login, user);
  const flow = await startFlow(pair.server);
  const agent = new Agent();
  return { agent, ctx: await signInWithSso(agent, pair.server, flow.user_code, user.login) };
}

describe('CORS on the bearer routes', () => {
  it('when an allow-listed origin calls a bearer route, then it is allowed without credentials', async () => {
    const m = await member(pair.server);
    const res = await fetch(url('/openapi/v1/me'), { headers: { ...m.auth, origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('when an allow-listed origin preflights a bearer route, then methods, headers and max-age are the documented ones and credentials are not allowed', async () => {
    for (const path of ['/openapi/v1/me', '/openapi/v1/apps/00000000-0000-4000-8000-000000000000/chat-messages', '/openapi/v1/oauth/token', '/openapi/v1/oauth/device/code']) {
      const res = await preflight(path);
      expect(res.status, path).toBe(204);
      expect(res.headers.get('access-control-allow-origin'), path).toBe(ORIGIN);
      expect(res.headers.get('access-control-allow-methods'), path).toBe('GET, POST, PATCH, DELETE, OPTIONS');
      expect(res.headers.get('access-control-allow-headers'), path).toBe('Authorization, Content-Type, DPoP');
      expect(res.headers.get('access-control-max-age'), path).toBe('600');
      expect(res.headers.get('access-control-allow-credentials'), path).toBeNull();
    }
  });

  it('when an origin outside the list calls or preflights, then no Access-Control-Allow-Origin is sent', async () => {
    const m = await member(pair.server);
    const res = await fetch(url('/openapi/v1/me'), { headers: { ...m.auth, origin: OTHER } });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual([]);
    expect(corsHeaders(await preflight('/openapi/v1/me', OTHER, 'GET'))).toEqual([]);
  });
});

describe('the cookie-authenticated endpoints answer no cross-origin request', () => {
  const cookieEndpoints = [
    '/openapi/v1/oauth/device/approve',
    '/openapi/v1/oauth/device/deny',
    '/openapi/v1/oauth/device/approve-external',
    '/openapi/v1/oauth/device/deny-external',
    '/openapi/v1/oauth/device/approval-context',
    '/console/api/signin',
    '/console/api/session',
    '/console/api/signout',
    '/console/api/devices',
  ];
  // What express would route there too: any case, a trailing slash.
  const variants = cookieEndpoints.flatMap((p) => [p, `${p}/`, p.toUpperCase().replace('/OPENAPI/V1/OAUTH', '/openapi/v1/OAuth')]);

  it('when an allow-listed origin preflights one, then no Access-Control-Allow-* header comes back', async () => {
    for (const path of variants) {
      for (const method of ['POST', 'GET']) {
        const res = await preflight(path, ORIGIN, method);
        expect(res.status, path).toBeLessThan(500);
        expect(corsHeaders(res), `${method} ${path}`).toEqual([]);
      }
    }
  });

  it('when an allow-listed origin reads approval-context with the grant cookie, then the answer carries no CORS grant (its CSRF token stays unreadable)', async () => {
    const { agent } = await ssoGrant();
    const res = await agent.fetch(url('/openapi/v1/oauth/device/approval-context'), { headers: { origin: ORIGIN } });
    // Same-origin use is untouched: the page's own script still reads it.
    expect(res.status).toBe(200);
    expect((await res.json()).csrf_token).toEqual(expect.any(String));
    expect(corsHeaders(res)).toEqual([]);
  });

  it('when an allow-listed origin posts to approve-external or deny-external, then no CORS grant is sent', async () => {
    const { agent, ctx } = await ssoGrant();
    for (const decision of ['deny-external', 'approve-external']) {
      // Not the grant's code: refused for the body, and nothing is spent.
      const res = await agent.fetch(url(`/openapi/v1/oauth/device/${decision}`), {
        method: 'POST',
        headers: { origin: ORIGIN, 'content-type': 'application/json', 'x-csrf-token': ctx.csrf_token },
        body: JSON.stringify({ user_code: 'BCDF-GHJK' }),
      });
      expect(res.status, decision).toBe(400);
      expect(corsHeaders(res), decision).toEqual([]);
    }
  });

  it('when an allow-listed origin posts to approve or deny with the console cookie, then no CORS grant is sent', async () => {
    for (const decision of ['approve', 'deny'] as const) {
      const flow = await startFlow(pair.server);
      const res = await decide(pair.server, decision, flow.user_code, login, { origin: ORIGIN });
      expect(res.status, decision).toBe(200);
      expect(corsHeaders(res), decision).toEqual([]);
    }
  });

  it('when an allow-listed origin calls the console API with the session cookie, then no CORS grant is sent', async () => {
    const res = await fetch(url('/console/api/session'), { headers: { cookie: login.cookie, origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual([]);
  });
});
