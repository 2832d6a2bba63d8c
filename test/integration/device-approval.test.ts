import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceFlowFor } from '../../src/device-flow/device-flow-service.ts';
import { consoleSignin, decide, type ConsoleLogin } from '../helpers/console.ts';
import { poll, startFlow } from '../helpers/device.ts';
import { createAccount, type TestAccount } from '../helpers/fixtures.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let account: TestAccount;
let login: ConsoleLogin;
const logged = auditLog();
const audit = logged.events;
beforeAll(async () => {
  server = await startServer({ log: logged.log });
  account = await createAccount(server.db);
  login = await consoleSignin(server, account);
});
afterAll(() => server.close());

let n = 0;
const ip = () => ({ 'x-forwarded-for': `10.2.${++n % 250}.${Math.floor(Math.random() * 250)}` });
const lookup = (code: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/openapi/v1/oauth/device/lookup?user_code=${encodeURIComponent(code)}`, { headers });
const me = (token: string) => fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` } });

async function expectOAuthError(res: Response, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('x-frame-options')).toBe('DENY');
  expect(await res.json()).toEqual({ error, error_description: expect.any(String) });
}

describe('approve and deny from the console', () => {
  it('when approved with the cookie and CSRF token, then the poll gets a token for that account, and the audit log has approved and minted', async () => {
    const flow = await startFlow(server, {}, ip());
    const res = await decide(server, 'approve', flow.user_code.replace('-', '').toLowerCase(), login, ip());
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ status: 'approved' });
    const tokenRes = await poll(server, flow.device_code);
    expect(tokenRes.status).toBe(200);
    const { access_token } = await tokenRes.json();
    expect((await (await me(access_token)).json()).email).toBe(account.email);
    const events = audit.filter((a) => a.subject === account.id).map((a) => a.event);
    expect(events).toEqual(expect.arrayContaining(['oauth.device_flow_approved', 'oauth.token_issued']));
    // Neither the token, the device code nor the session cookie reaches the logs.
    for (const secret of [access_token, flow.device_code, login.cookie.split('=')[1]!]) {
      expect(logged.lines.some((l) => l.includes(secret))).toBe(false);
    }
  });

  it('when denied, then the poll gets access_denied, a second decision gets 409, and the audit log has denied', async () => {
    const flow = await startFlow(server, {}, ip());
    expect((await decide(server, 'deny', flow.user_code, login, ip())).status).toBe(200);
    await expectOAuthError(await poll(server, flow.device_code), 400, 'access_denied');
    await expectOAuthError(await decide(server, 'approve', flow.user_code, login, ip()), 409, 'invalid_grant');
    expect(audit.some((a) => a.event === 'oauth.device_flow_denied' && a.subject === account.id)).toBe(true);
  });

  it('when the CSRF token is missing or wrong, then 403 and the code is still pending', async () => {
    const flow = await startFlow(server, {}, ip());
    await expectOAuthError(await decide(server, 'approve', flow.user_code, { cookie: login.cookie }, ip()), 403, 'access_denied');
    await expectOAuthError(await decide(server, 'deny', flow.user_code, { cookie: login.cookie, csrf: login.csrf.slice(1) + 'x' }, ip()), 403, 'access_denied');
    const other = await consoleSignin(server, await createAccount(server.db));
    await expectOAuthError(await decide(server, 'approve', flow.user_code, { cookie: login.cookie, csrf: other.csrf }, ip()), 403, 'access_denied');
    expect(await deviceFlowFor(server.app.services).lookup(flow.user_code)).toMatchObject({ valid: true });
    await expectOAuthError(await poll(server, flow.device_code), 400, 'authorization_pending');
  });

  it('when there is no console session, then 401 login_required and nothing changes', async () => {
    const flow = await startFlow(server, {}, ip());
    await expectOAuthError(await decide(server, 'approve', flow.user_code, { csrf: login.csrf }, ip()), 401, 'login_required');
    expect(await deviceFlowFor(server.app.services).lookup(flow.user_code)).toMatchObject({ valid: true });
  });

  it('when the code is unknown, then 404; when user_code is missing, then 400', async () => {
    await expectOAuthError(await decide(server, 'approve', 'BBBB-BBBB', login, ip()), 404, 'invalid_grant');
    const res = await fetch(`${server.url}/openapi/v1/oauth/device/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: login.cookie, 'x-csrf-token': login.csrf },
      body: '{}',
    });
    await expectOAuthError(res, 400, 'invalid_request');
  });

  it('when wrong codes are tried, then they count toward the per-IP lookup limit', async () => {
    const from = ip();
    for (let i = 0; i < 59; i++) expect((await lookup('BBBB-BBBB', from)).status).toBe(200);
    await expectOAuthError(await decide(server, 'approve', 'CCCC-CCCC', login, from), 404, 'invalid_grant');
    await expectOAuthError(await lookup('BBBB-BBBB', from), 429, 'slow_down');
    expect((await lookup('BBBB-BBBB', ip())).status).toBe(200);
  });

  it('when one session decides 30 times in an hour, then the 31st gets 429 with Retry-After', async () => {
    const own = await consoleSignin(server, account);
    const flow = await startFlow(server, {}, ip());
    expect((await decide(server, 'deny', flow.user_code, own)).status).toBe(200);
    for (let i = 1; i < 30; i++) expect((await decide(server, 'deny', flow.user_code, own)).status).toBe(409);
    const limited = await decide(server, 'deny', flow.user_code, own);
    await expectOAuthError(limited, 429, 'slow_down');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await decide(server, 'deny', flow.user_code, login)).status).toBe(409);
  });
});
