import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevIdp } from '../../scripts/idp.ts';
import { consoleSignin } from '../helpers/console.ts';
import { clientIp, startFlow } from '../helpers/device.ts';
import { createAccount, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { Agent, CLIENT_SECRET, idpUser, initiate, signInAtIdp } from '../helpers/sso.ts';

// On https our cookies carry the prefixes browsers enforce: `__Host-` for the console
// session (only this host can set it), `__Secure-` for the path-scoped SSO cookies (only
// an https page can set them). The servers below listen on plain http in the test, but
// PUBLIC_URL is https, which is what decides.
const PUBLIC_URL = 'https://tessera.example';

let idp: DevIdp;
let https: TestServer;
let http: TestServer;
let account: TestAccount;
beforeAll(async () => {
  idp = await DevIdp.listen();
  await idp.configure({
    clients: [
      {
        client_id: 'tessera',
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${PUBLIC_URL}/device/sso-complete`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
  });
  https = await startServer({
    config: {
      publicUrl: PUBLIC_URL,
      edition: 'enterprise',
      ssoAllowInsecureHttp: true,
      sso: { issuer: idp.issuer, clientId: 'tessera', clientSecret: CLIENT_SECRET, scopes: ['openid', 'email', 'profile'], displayName: 'Corp SSO', discoveryRetryMs: 30_000 },
    },
  });
  http = await startServer();
  account = await createAccount(https.db);
});
afterAll(async () => {
  await https?.close();
  await http?.close();
  await idp?.close();
});

const sessionAt = (server: TestServer, cookie: string) => fetch(`${server.url}/console/api/session`, { headers: { cookie } });
const valueOf = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);

describe('cookie names and flags on https', () => {
  it('when PUBLIC_URL is https, then the console session cookie is __Host-tessera_session: Secure, Path=/, no Domain; the unprefixed name is not read; sign-out clears the prefixed one', async () => {
    const login = await consoleSignin(https, account, clientIp());
    expect(login.setCookie).toMatch(/^__Host-tessera_session=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=43200; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(login.setCookie).not.toMatch(/domain=/i);
    expect((await sessionAt(https, login.cookie)).status).toBe(200);
    // The same session under the name any sibling subdomain could set: not ours on https.
    expect((await sessionAt(https, `tessera_session=${valueOf(login.cookie)}`)).status).toBe(401);
    const out = await fetch(`${https.url}/console/api/signout`, { method: 'POST', headers: { cookie: login.cookie, 'x-csrf-token': login.csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^__Host-tessera_session=; Max-Age=0; Path=\/; HttpOnly; Secure; SameSite=Lax/);
  });

  it('when PUBLIC_URL is https, then the SSO binding and approval-grant cookies are __Secure-, Secure and path-scoped, and the grant is read under that name', async () => {
    const user = idpUser();
    idp.accounts.set(user.login, user);
    const flow = await startFlow(https);
    const agent = new Agent();
    const init = await agent.fetch(`${https.url}/openapi/v1/oauth/device/sso-initiate?user_code=${encodeURIComponent(flow.user_code)}`);
    expect(init.status).toBe(302);
    expect(init.headers.get('set-cookie')).toMatch(/^__Secure-tessera_sso_binding=[\w-]+; Max-Age=600; Path=\/device\/sso-complete; HttpOnly; Secure; SameSite=Lax$/);

    // The IdP sends the browser to the public https address; this test's server is that address over http.
    const callback = await signInAtIdp(agent, new URL(init.headers.get('location')!), user.login, `${PUBLIC_URL}/device/sso-complete`);
    const done = await agent.fetch(callback.replace(PUBLIC_URL, https.url));
    expect(done.status).toBe(303);
    const grant = done.headers.getSetCookie().find((c) => c.startsWith('__Secure-tessera_approval_grant='))!;
    expect(grant).toMatch(/^__Secure-tessera_approval_grant=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=300; Path=\/openapi\/v1\/oauth\/device; HttpOnly; Secure; SameSite=Lax$/);
    expect(done.headers.getSetCookie()).toContainEqual(expect.stringMatching(/^__Secure-tessera_sso_binding=; Max-Age=0; Path=\/device\/sso-complete; HttpOnly; Secure; SameSite=Lax/));
    const context = `${https.url}/openapi/v1/oauth/device/approval-context`;
    expect((await agent.fetch(context)).status).toBe(200);
    // The unprefixed name is not read on https.
    const value = agent.cookie(https.url, '__Secure-tessera_approval_grant')!;
    expect((await fetch(context, { headers: { cookie: `tessera_approval_grant=${value}` } })).status).toBe(401);
  });

  it('when PUBLIC_URL is http, then the cookies keep their plain names and are not Secure', async () => {
    const login = await consoleSignin(http, account, clientIp());
    expect(login.setCookie).toMatch(/^tessera_session=[^;]+; Max-Age=43200; Path=\/; HttpOnly; SameSite=Lax$/);
  });
});

describe('a cookie sent twice', () => {
  it('when the session cookie appears twice, even with the same valid value, then it counts as no cookie (401)', async () => {
    for (const server of [http, https]) {
      const login = await consoleSignin(server, account, clientIp());
      const other = await consoleSignin(server, account, clientIp());
      expect((await sessionAt(server, login.cookie)).status).toBe(200);
      expect((await sessionAt(server, `${login.cookie}; ${login.cookie}`)).status).toBe(401);
      expect((await sessionAt(server, `${login.cookie}; ${other.cookie}`)).status).toBe(401);
      const name = login.cookie.slice(0, login.cookie.indexOf('='));
      expect((await sessionAt(server, `${name}=planted; ${login.cookie}`)).status).toBe(401);
      // Another cookie next to ours is fine.
      expect((await sessionAt(server, `theme=dark; ${login.cookie}`)).status).toBe(200);
    }
  });

  it('when the SSO binding or approval-grant cookie appears twice, then it counts as missing', async () => {
    const user = idpUser();
    idp.accounts.set(user.login, user);
    const flow = await startFlow(https);
    const agent = new Agent();
    const auth = await initiate(agent, https, flow.user_code);
    const binding = agent.cookie(https.url, '__Secure-tessera_sso_binding')!;
    const callback = (await signInAtIdp(agent, auth, user.login, `${PUBLIC_URL}/device/sso-complete`)).replace(PUBLIC_URL, https.url);
    // Two binding cookies: the callback cannot tell which browser started the sign-in.
    const twice = await fetch(callback, { headers: { cookie: `__Secure-tessera_sso_binding=${binding}; __Secure-tessera_sso_binding=${binding}` } });
    expect(twice.status).toBe(400);
    expect(twice.headers.getSetCookie().some((c) => /^__Secure-tessera_approval_grant=[^;]/.test(c))).toBe(false);

    // A fresh sign-in that completes: its grant, sent twice, is no grant.
    const flow2 = await startFlow(https);
    const agent2 = new Agent();
    const auth2 = await initiate(agent2, https, flow2.user_code);
    const done = await agent2.fetch((await signInAtIdp(agent2, auth2, user.login, `${PUBLIC_URL}/device/sso-complete`)).replace(PUBLIC_URL, https.url));
    expect(done.status).toBe(303);
    const grant = `__Secure-tessera_approval_grant=${agent2.cookie(https.url, '__Secure-tessera_approval_grant')!}`;
    const context = `${https.url}/openapi/v1/oauth/device/approval-context`;
    expect((await fetch(context, { headers: { cookie: `${grant}; ${grant}` } })).status).toBe(401);
    expect((await fetch(context, { headers: { cookie: grant } })).status).toBe(200);
  });
});
