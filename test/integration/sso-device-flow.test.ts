import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/auth/rate-limit.ts';
import { derivedKey } from '../../src/auth/derived-key.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { clientIp, poll, startFlow } from '../helpers/device.ts';
import { createAccount } from '../helpers/fixtures.ts';
import { auditLog } from '../helpers/server.ts';
import {
  Agent,
  callbackPrefix,
  cancelAtIdp,
  CLIENT_SECRET,
  decideExternal,
  idpUser,
  initiate,
  initiateUrl,
  signInAtIdp,
  signInWithSso,
  ssoLogin,
  startSsoPair,
  type SsoPair,
} from '../helpers/sso.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

const audit = auditLog();
let pair: SsoPair;
beforeAll(async () => {
  pair = await startSsoPair({ server: { log: audit.log } });
});
afterAll(() => pair.close());

const device = (path: string) => `${pair.server.url}/openapi/v1/oauth/device/${path}`;

/** The user's pending code must still be pending: nothing was approved. */
async function expectNothingApproved(deviceCode: string) {
  const res = await poll(pair.server, deviceCode);
  expect(res.status).toBe(400);
  // (slow_down when polled twice within the interval: still not approved)
  expect(['authorization_pending', 'slow_down']).toContain((await res.json()).error);
}

function expectPage(res: Response) {
  if (res.status < 300 || res.status >= 400) expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(res.headers.get('x-frame-options')).toBe('DENY');
  expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  expect(res.headers.get('cache-control')).toBe('no-store');
}

/** A user at the IdP with a pending device code and a browser that started SSO for it. */
async function started() {
  const user = idpUser();
  pair.idp.accounts.set(user.login, user);
  const flow = await startFlow(pair.server);
  const agent = new Agent();
  const auth = await initiate(agent, pair.server, flow.user_code);
  return { user, flow, agent, auth };
}

describe('the external-SSO exchange (sso-initiate → IdP → sso-complete → approval grant → approve-external → tse_)', () => {
  it('when a person signs in at the IdP and approves, then the poll returns a tse_ token for that subject', async () => {
    const user = idpUser();
    pair.idp.accounts.set(user.login, user);
    const flow = await startFlow(pair.server, { device_label: 'work laptop' });
    const agent = new Agent();

    const init = await agent.fetch(initiateUrl(pair.server, flow.user_code));
    expect(init.status).toBe(302);
    expect(init.headers.get('x-frame-options')).toBe('DENY');
    expect(init.headers.get('cache-control')).toBe('no-store');
    const auth = new URL(init.headers.get('location')!);
    expect(`${auth.origin}`).toBe(pair.idp.issuer);
    expect(Object.fromEntries(auth.searchParams)).toMatchObject({
      client_id: 'tessera',
      response_type: 'code',
      scope: 'openid email profile',
      redirect_uri: `${pair.server.url}/device/sso-complete`,
      code_challenge_method: 'S256',
    });
    expect(auth.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(auth.searchParams.get('nonce')).toMatch(/^[\w-]{20,}$/);
    expect(auth.searchParams.get('state')!.split('.')).toHaveLength(3);
    expect(init.headers.get('set-cookie')).toMatch(/^tessera_sso_binding=[\w-]+; Max-Age=600; Path=\/device\/sso-complete; HttpOnly; SameSite=Lax$/);

    const callback = await signInAtIdp(agent, auth, user.login, callbackPrefix(pair.server));
    const done = await agent.fetch(callback);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/device');
    expectPage(done);
    const grantCookie = done.headers.getSetCookie().find((c) => c.startsWith('tessera_approval_grant='))!;
    expect(grantCookie).toMatch(/; Max-Age=300; Path=\/openapi\/v1\/oauth\/device; HttpOnly; SameSite=Lax$/);

    const ctxRes = await agent.fetch(device('approval-context'));
    expect(ctxRes.status).toBe(200);
    expect(ctxRes.headers.get('cache-control')).toBe('no-store');
    const ctx = await ctxRes.json();
    expect(ctx).toMatchObject({
      client_id: 'tessera-cli',
      device_label: 'work laptop',
      user_code: flow.user_code,
      subject_email: user.email,
      subject_issuer: pair.idp.issuer,
    });
    expect(ctx.expires_in_remaining).toBeGreaterThan(800);
    expect(ctx.csrf_token).toMatch(/^[\w-]{43}$/);
    await expectNothingApproved(flow.device_code);

    const approved = await decideExternal(agent, pair.server, 'approve', ctx.user_code, ctx.csrf_token);
    expect(approved.status).toBe(200);
    expect(await approved.json()).toEqual({ status: 'approved' });
    expect(audit.events.find((e) => e.event === 'oauth.device_flow_approved' && e.subject_email === user.email)).toMatchObject({ branch: 'sso', subject: user.login });

    const token = await poll(pair.server, flow.device_code);
    expect(token.status).toBe(200);
    const body = await token.json();
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'apps:run apps:read:permitted' });
    expect(body.access_token).toMatch(/^tse_/);
    const me = await pair.server.api.GET('/me', { headers: { Authorization: `Bearer ${body.access_token}` } });
    expect(me.data).toMatchObject({ sub: user.login, email: user.email, display_name: user.name, prefix: 'tse_', subject_issuer: pair.idp.issuer, default_workspace_id: null });
    expectMatchesSpec('get', '/me', 200, me.data);
    const sessions = await pair.server.api.GET('/me/sessions', { headers: { Authorization: `Bearer ${body.access_token}` } });
    expect(sessions.data!.data).toMatchObject([{ client_id: 'tessera-cli', device_label: 'work laptop', current: true }]);
    const [row] = await pair.server.db.query<{ account_id: string | null; token_hash: string }>('SELECT account_id, token_hash FROM oauth_access_tokens WHERE subject_sub = $1', [user.login]);
    expect(row!.account_id).toBeNull();
    expect(row!.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('when the same subject logs in again from the same device, then the token rotates in place', async () => {
    const user = idpUser();
    const first = await ssoLogin(pair, user);
    const second = await ssoLogin(pair, user);
    const ids = await pair.server.db.query<{ id: string }>('SELECT id FROM oauth_access_tokens WHERE subject_sub = $1', [user.login]);
    expect(ids).toHaveLength(1);
    expect((await fetch(`${pair.server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${first.token}` } })).status).toBe(401);
    expect((await fetch(`${pair.server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${second.token}` } })).status).toBe(200);
  });

  it('when the person denies, then the poll gets access_denied', async () => {
    const user = idpUser();
    pair.idp.accounts.set(user.login, user);
    const flow = await startFlow(pair.server);
    const browser = new Agent();
    const ctx = await signInWithSso(browser, pair.server, flow.user_code, user.login);
    const denied = await decideExternal(browser, pair.server, 'deny', ctx.user_code, ctx.csrf_token);
    expect(denied.status).toBe(200);
    expect(await denied.json()).toEqual({ status: 'denied' });
    expect(audit.events.some((e) => e.event === 'oauth.device_flow_denied' && e.branch === 'sso' && e.subject_email === user.email)).toBe(true);
    const res = await poll(pair.server, flow.device_code);
    expect((await res.json()).error).toBe('access_denied');
  });
});

describe('state: one-time, bound to the browser', () => {
  it('when the callback is replayed, then the second use shows a clear page and approves nothing', async () => {
    const { user, flow, agent, auth } = await started();
    const callback = await signInAtIdp(agent, auth, user.login, callbackPrefix(pair.server));
    const binding = agent.cookie(pair.server.url, 'tessera_sso_binding')!;
    expect((await agent.fetch(callback)).status).toBe(303);
    agent.setCookie(pair.server.url, 'tessera_sso_binding', binding, '/device/sso-complete');
    const again = await agent.fetch(callback);
    expect(again.status).toBe(400);
    expectPage(again);
    expect(await again.text()).toContain('This sign-in link has expired or was already used.');
    expect(again.headers.getSetCookie().some((c) => c.startsWith('tessera_approval_grant=e'))).toBe(false);
    await expectNothingApproved(flow.device_code);
  });

  it('when the state is forged (not ours, or tampered), then a clear page and nothing approved', async () => {
    const { user, flow, agent, auth } = await started();
    const callback = new URL(await signInAtIdp(agent, auth, user.login, callbackPrefix(pair.server)));
    const real = callback.searchParams.get('state')!;
    const forged = await new SignJWT({ sid: 'made-up' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('tessera:sso-state').setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(32)));
    for (const state of [forged, real.slice(0, -2) + (real.endsWith('AA') ? 'BB' : 'AA'), 'garbage']) {
      callback.searchParams.set('state', state);
      const res = await agent.fetch(callback.href);
      expect(res.status).toBe(400);
      expectPage(res);
      expect(await res.text()).toContain('This sign-in link is not valid.');
    }
    await expectNothingApproved(flow.device_code);
  });

  it('when the state has expired, then a clear page and nothing approved', async () => {
    const { user, flow, agent, auth } = await started();
    const callback = new URL(await signInAtIdp(agent, auth, user.login, callbackPrefix(pair.server)));
    // A state signed with Tessera's own key whose lifetime is over (as after ten minutes).
    const expired = await new SignJWT({ sid: 'whatever' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('tessera:sso-state')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 700)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 100)
      .sign(derivedKey(pair.server.config.secretKey!, 'sso-state'));
    callback.searchParams.set('state', expired);
    const res = await agent.fetch(callback.href);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This sign-in link has expired or was already used.');
    // And a real state whose stored record is gone (its ten minutes in the store ran out).
    const other = await started();
    const cb = new URL(await signInAtIdp(other.agent, other.auth, other.user.login, callbackPrefix(pair.server)));
    const sid = JSON.parse(Buffer.from(cb.searchParams.get('state')!.split('.')[1]!, 'base64url').toString()).sid;
    await pair.server.store.del(`sso:state:{${sid}}`);
    const gone = await other.agent.fetch(cb.href);
    expect(gone.status).toBe(400);
    expect(await gone.text()).toContain('This sign-in link has expired or was already used.');
    await expectNothingApproved(flow.device_code);
    await expectNothingApproved(other.flow.device_code);
  });

  it('when the callback is opened in another browser (no binding cookie), then a clear page and nothing approved', async () => {
    const { user, flow, agent, auth } = await started();
    const callback = await signInAtIdp(agent, auth, user.login, callbackPrefix(pair.server));
    const res = await new Agent().fetch(callback);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This sign-in was started in another browser.');
    await expectNothingApproved(flow.device_code);
  });
});

describe('ID token validation (by openid-client, against the real provider)', () => {
  it('when the ID token was issued to another client (wrong aud), then a clear page and nothing approved', async () => {
    const { user, flow, agent, auth } = await started();
    // A genuine ID token from the same IdP, for the same person and nonce, but issued to client `other`,
    // arrives in place of Tessera's own at the token endpoint.
    const { idToken } = await otherClientIdToken(user.login, auth.searchParams.get('nonce')!);
    pair.idp.replaceNextIdToken = idToken;
    const callback = await signInAtIdp(agent, auth, user.login, callbackPrefix(pair.server));
    const res = await agent.fetch(callback);
    pair.idp.replaceNextIdToken = null;
    expect(res.status).toBe(400);
    expectPage(res);
    expect(await res.text()).toContain('Tessera could not verify your sign-in with Corp SSO, so nothing was approved.');
    expect(audit.lines.some((l) => l.includes('sso: sign-in response refused') && l.includes('claim aud'))).toBe(true);
    await expectNothingApproved(flow.device_code);
  });

  it('when the nonce in the authorization request was changed, then a clear page and nothing approved', async () => {
    const { user, flow, agent, auth } = await started();
    const tampered = new URL(auth);
    tampered.searchParams.set('nonce', 'attacker-chosen-nonce-0123456789');
    const callback = await signInAtIdp(agent, tampered, user.login, callbackPrefix(pair.server));
    const res = await agent.fetch(callback);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Tessera could not verify your sign-in');
    expect(audit.lines.some((l) => l.includes('sso: sign-in response refused') && l.includes('claim nonce'))).toBe(true);
    await expectNothingApproved(flow.device_code);
  });

  it('when the ID token has expired, then a clear page and nothing approved', async () => {
    const { user, flow, agent, auth } = await started();
    pair.idp.idTokenTtlSeconds = -600;
    try {
      const callback = await signInAtIdp(agent, auth, user.login, callbackPrefix(pair.server));
      const res = await agent.fetch(callback);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('Tessera could not verify your sign-in');
      expect(audit.lines.some((l) => l.includes('sso: sign-in response refused') && /"exp"|claim exp/.test(l))).toBe(true);
    } finally {
      pair.idp.idTokenTtlSeconds = 3600;
    }
    await expectNothingApproved(flow.device_code);
  });

  it('when the IdP says email_verified=false, then a clear page and nothing approved', async () => {
    const user = idpUser({ email_verified: false });
    pair.idp.accounts.set(user.login, user);
    const flow = await startFlow(pair.server);
    const agent = new Agent();
    const callback = await signInAtIdp(agent, await initiate(agent, pair.server, flow.user_code), user.login, callbackPrefix(pair.server));
    const res = await agent.fetch(callback);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Your email address at Corp SSO is not verified, so nothing was approved.');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('tessera_approval_grant=') && !c.startsWith('tessera_approval_grant=;'))).toBe(false);
    await expectNothingApproved(flow.device_code);
  });

  it('when the IdP sends the email padded and in mixed case, then the subject is the trimmed, lower-case address, as for a federated JWT', async () => {
    const user = idpUser();
    const token = await ssoLogin(pair, { ...user, email: `  ${user.email.toUpperCase()}\t` });
    const me = await fetch(`${pair.server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token.token}` } });
    expect((await me.json()).email).toBe(user.email);
    const [row] = await pair.server.db.query<{ subject_email: string }>('SELECT subject_email FROM oauth_access_tokens WHERE token_hash IS NOT NULL AND subject_email LIKE $1', [`%${user.email}%`]);
    expect(row!.subject_email).toBe(user.email);
  });

  it('when the IdP sends something that is not an email address, then a clear page and nothing approved', async () => {
    for (const email of ['not an address', 'two@@corp.example', 'x'.repeat(320) + '@corp.example']) {
      const user = idpUser({ email });
      pair.idp.accounts.set(user.login, user);
      const flow = await startFlow(pair.server);
      const agent = new Agent();
      const callback = await signInAtIdp(agent, await initiate(agent, pair.server, flow.user_code), user.login, callbackPrefix(pair.server));
      const res = await agent.fetch(callback);
      expect(res.status, email).toBe(400);
      expectPage(res);
      expect(await res.text(), email).toContain('Corp SSO gave Tessera an email address it cannot use, so nothing was approved.');
      expect((await agent.fetch(device('approval-context'))).status, email).toBe(401);
      await expectNothingApproved(flow.device_code);
    }
  });

  it('when the person cancels at the IdP (error=access_denied), then a clear page and nothing approved', async () => {
    const { flow, agent, auth } = await started();
    const callback = await cancelAtIdp(agent, auth, callbackPrefix(pair.server));
    expect(new URL(callback).searchParams.get('error')).toBe('access_denied');
    const res = await agent.fetch(callback);
    expect(res.status).toBe(400);
    expectPage(res);
    const html = await res.text();
    expect(html).toContain('Sign-in with Corp SSO was cancelled or refused, so nothing was approved.');
    // The page's script clears the address bar; it is loaded from this origin.
    expect(html).toContain('<script src="/assets/device-sso.js" defer></script>');
    await expectNothingApproved(flow.device_code);
  });
});

describe('the approval grant: one-time, bound to its code, CSRF-protected', () => {
  it('when the grant is used a second time, then 401 no_session', async () => {
    const { user, flow, agent } = await started();
    const b = new Agent(agent.headers);
    const ctx = await signInWithSso(b, pair.server, flow.user_code, user.login);
    const grant = b.cookie(pair.server.url, 'tessera_approval_grant')!;
    expect((await decideExternal(b, pair.server, 'approve', ctx.user_code, ctx.csrf_token)).status).toBe(200);
    // The answer cleared the cookie; a copy of it is dead too.
    b.setCookie(pair.server.url, 'tessera_approval_grant', grant, '/openapi/v1/oauth/device');
    for (const res of [await decideExternal(b, pair.server, 'approve', ctx.user_code, ctx.csrf_token), await decideExternal(b, pair.server, 'deny', ctx.user_code, ctx.csrf_token), await b.fetch(device('approval-context'))]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'no_session' });
    }
  });

  it('when a grant for code A is sent with code B, then 400 invalid_request and neither changes', async () => {
    const { user, flow: a, agent } = await started();
    const b = await startFlow(pair.server);
    const browser = new Agent(agent.headers);
    const ctx = await signInWithSso(browser, pair.server, a.user_code, user.login);
    const res = await decideExternal(browser, pair.server, 'approve', b.user_code, ctx.csrf_token);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    await expectNothingApproved(a.device_code);
    await expectNothingApproved(b.device_code);
    // The grant was not spent: it still approves its own code.
    expect((await decideExternal(browser, pair.server, 'approve', a.user_code, ctx.csrf_token)).status).toBe(200);
    await expectNothingApproved(b.device_code);
  });

  it('when the CSRF token is missing or wrong, then 403 and nothing changes', async () => {
    const { user, flow, agent } = await started();
    const browser = new Agent(agent.headers);
    const ctx = await signInWithSso(browser, pair.server, flow.user_code, user.login);
    for (const csrf of [undefined, 'wrong', ctx.csrf_token.slice(1)]) {
      const res = await decideExternal(browser, pair.server, 'approve', ctx.user_code, csrf);
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'access_denied' });
    }
    await expectNothingApproved(flow.device_code);
  });

  it('when there is no grant cookie, or a tampered one, then 401 no_session', async () => {
    const flow = await startFlow(pair.server);
    const browser = new Agent();
    for (const res of [await browser.fetch(device('approval-context')), await decideExternal(browser, pair.server, 'approve', flow.user_code, 'x')]) {
      expect(res.status).toBe(401);
      expect((await res.json()).error).toBe('no_session');
    }
    browser.setCookie(pair.server.url, 'tessera_approval_grant', 'eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2lnbmF0dXJl', '/openapi/v1/oauth/device');
    expect((await browser.fetch(device('approval-context'))).status).toBe(401);
  });

  it('when the code was approved in the account branch meanwhile, then approve-external answers 409 and the account keeps it', async () => {
    const { user, flow, agent } = await started();
    const browser = new Agent(agent.headers);
    const ctx = await signInWithSso(browser, pair.server, flow.user_code, user.login);
    const account = await createAccount(pair.server.db);
    expect((await decide(pair.server, 'approve', flow.user_code, await consoleSignin(pair.server, account))).status).toBe(200);
    expect((await browser.fetch(device('approval-context'))).status).toBe(404);
    const res = await decideExternal(browser, pair.server, 'approve', ctx.user_code, ctx.csrf_token);
    expect(res.status).toBe(409);
    const token = await (await poll(pair.server, flow.device_code)).json();
    expect(token.access_token).toMatch(/^tsa_/);
  });
});

describe('limits', () => {
  it('when an address has used up its lookups, then sso-initiate answers 429; and each sso-initiate counts as a lookup', async () => {
    const flow = await startFlow(pair.server);
    const from = clientIp();
    for (let i = 0; i < 59; i++) await fetch(`${device('lookup')}?user_code=BBBBBBBB`, { headers: from });
    const last = await fetch(initiateUrl(pair.server, flow.user_code), { headers: from, redirect: 'manual' });
    expect(last.status).toBe(302);
    const over = await fetch(initiateUrl(pair.server, flow.user_code), { headers: from, redirect: 'manual' });
    expect(over.status).toBe(429);
    expect(await over.json()).toMatchObject({ error: 'slow_down' });
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${device('lookup')}?user_code=BBBBBBBB`, { headers: from })).status).toBe(429);
  });

  it('when a wrong or expired code is sent to sso-initiate, then 404 invalid_grant', async () => {
    const res = await fetch(initiateUrl(pair.server, 'BBBB-BBBB'), { headers: clientIp(), redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    const missing = await fetch(`${device('sso-initiate')}`, { headers: clientIp() });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toBe('invalid_request');
  });

  it('when an external subject has used up the approve limit, then approve-external answers 429 and the grant is not spent', async () => {
    const { user, flow, agent } = await started();
    const browser = new Agent(agent.headers);
    const ctx = await signInWithSso(browser, pair.server, flow.user_code, user.login);
    // Thirty decisions this hour already (the same window as the account branch's approve/deny).
    const limiter = new RateLimiter(pair.server.store, 30);
    for (let i = 0; i < 30; i++) await limiter.hitKey('device-approval', `sso\n${ctx.subject_issuer}\n${ctx.subject_email}`, 30, 3600_000);
    const res = await decideExternal(browser, pair.server, 'approve', ctx.user_code, ctx.csrf_token);
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error: 'slow_down' });
    expect((await browser.fetch(device('approval-context'))).status).toBe(200);
    await expectNothingApproved(flow.device_code);
  });
});

/** Runs the code flow for client `other` with a given nonce and returns its (genuine) ID token. */
async function otherClientIdToken(login: string, nonce: string): Promise<{ idToken: string }> {
  const oidc = await import('openid-client');
  const config = await oidc.discovery(new URL(pair.idp.issuer), 'other', { redirect_uris: [`${pair.server.url}/device/sso-complete`] }, oidc.ClientSecretPost(CLIENT_SECRET), {
    execute: [oidc.allowInsecureRequests],
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: `${pair.server.url}/device/sso-complete`,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state: 'other-state',
  });
  const callback = await signInAtIdp(new Agent(), url, login, callbackPrefix(pair.server));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: 'other-state' });
  return { idToken: tokens.id_token! };
}
