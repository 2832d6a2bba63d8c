import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevIdp } from '../../scripts/idp.ts';
import { consoleSignin } from '../helpers/console.ts';
import { clientIp, startFlow } from '../helpers/device.ts';
import { createAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { initiateUrl, startSsoPair, type SsoPair } from '../helpers/sso.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const page = (server: TestServer, path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers: { ...clientIp(), ...headers }, redirect: 'manual' });

describe('the /device chooser (enterprise edition with single sign-on)', () => {
  let pair: SsoPair;
  beforeAll(async () => {
    pair = await startSsoPair({ sso: { displayName: 'Corp <SSO>' } });
  });
  afterAll(() => pair.close());

  it('when nobody is signed in and the code is valid, then the page offers the account sign-in or the SSO provider, escaped', async () => {
    const flow = await startFlow(pair.server, { device_label: 'laptop' });
    const res = await page(pair.server, `/device?user_code=${flow.user_code}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    expect(html).toContain('id="chooser"');
    expect(html).toContain(`<span id="code" class="code code-display">${flow.user_code}</span>`);
    expect(html).toContain(`data-href="/signin?next=%2Fdevice%3Fuser_code%3D${flow.user_code}"`);
    expect(html).toContain(`data-href="/openapi/v1/oauth/device/sso-initiate?user_code=${flow.user_code}"`);
    expect(html).toContain('Continue with Corp &lt;SSO&gt;');
    expect(html).not.toContain('Corp <SSO>');
    expect(html).not.toContain('temporarily unavailable');
    expect(html).not.toContain('id="approve"');
    expect(html).toContain('<script src="/assets/device-sso.js" defer></script>');
    expect((await page(pair.server, '/assets/device-sso.js')).status).toBe(200);
  });

  it('when nobody is signed in and there is no code, then the code form (no redirect to /signin)', async () => {
    const res = await page(pair.server, '/device');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<label for="user_code">');
    expect(html).not.toContain('id="signout"');
    expect(html).toContain('id="sso-confirm"');
  });

  it('when signed in with an account, then the account branch is unchanged: the confirm view', async () => {
    const account = await createAccount(pair.server.db);
    const login = await consoleSignin(pair.server, account);
    const flow = await startFlow(pair.server);
    const html = await (await page(pair.server, `/device?user_code=${flow.user_code}`, { cookie: login.cookie })).text();
    expect(html).toContain('id="approve"');
    expect(html).toContain(`Signed in as <strong>${account.email}</strong>`);
    expect(html).not.toContain('id="chooser"');
  });
});

describe('the SSO routes in the community edition', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('when any SSO route is called, then 404, before any limit (the per-IP lookup window stays untouched)', async () => {
    const flow = await startFlow(server);
    const from = clientIp();
    for (let i = 0; i < 70; i++) {
      const res = await fetch(initiateUrl(server, flow.user_code), { headers: from, redirect: 'manual' });
      expect(res.status).toBe(404);
    }
    for (const [method, path] of [
      ['GET', '/openapi/v1/oauth/device/approval-context'],
      ['POST', '/openapi/v1/oauth/device/approve-external'],
      ['POST', '/openapi/v1/oauth/device/deny-external'],
      ['GET', '/device/sso-complete?code=x&state=y'],
    ]) {
      const res = await fetch(`${server.url}${path}`, { method, headers: { ...from, 'content-type': 'application/json' }, body: method === 'POST' ? '{"user_code":"BBBB-BBBB"}' : undefined, redirect: 'manual' });
      expect(res.status, path).toBe(404);
    }
    expect((await fetch(`${server.url}/openapi/v1/oauth/device/lookup?user_code=${flow.user_code}`, { headers: from })).status).toBe(200);
    // And /device still sends people without a session to /signin, as before.
    expect((await page(server, '/device')).status).toBe(303);
  });
});

describe('an OpenID provider that cannot be reached at start', () => {
  let idp: DevIdp;
  let proxy: TcpProxy;
  let pair: SsoPair;
  beforeAll(async () => {
    idp = await DevIdp.listen();
    proxy = new TcpProxy('127.0.0.1', idp.port);
    await proxy.start();
    idp.issuer = proxy.url(idp.issuer).replace(/\/$/, '');
    await proxy.cut();
    pair = await startSsoPair({ idp, sso: { discoveryRetryMs: 50 } });
  });
  afterAll(async () => {
    await pair.close();
    await proxy.cut();
    await idp.close();
  });

  it('when the provider is down, then Tessera runs, the button says "temporarily unavailable", and SSO comes back once the provider answers', async () => {
    expect((await fetch(`${pair.server.url}/openapi/v1/_health`)).status).toBe(200);
    const flow = await startFlow(pair.server);
    const down = await (await page(pair.server, `/device?user_code=${flow.user_code}`)).text();
    expect(down).toContain('Corp SSO is temporarily unavailable.');
    expect(down).toMatch(/id="choose-sso"[^>]* disabled>/);
    const refused = await fetch(initiateUrl(pair.server, flow.user_code), { headers: clientIp(), redirect: 'manual' });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' });

    await proxy.restore();
    // sso-initiate retries discovery itself when the last attempt is old enough; poll on its answer.
    let res: Response;
    const start = Date.now();
    do {
      res = await fetch(initiateUrl(pair.server, flow.user_code), { headers: clientIp(), redirect: 'manual' });
    } while (res.status === 503 && Date.now() - start < 10_000 && (await new Promise((r) => setTimeout(r, 50)), true));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(new RegExp(`^${idp.issuer}/`));
    const up = await (await page(pair.server, `/device?user_code=${flow.user_code}`)).text();
    expect(up).not.toContain('temporarily unavailable');
  });
});
