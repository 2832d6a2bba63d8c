import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin } from '../helpers/admin.ts';
import { consoleSignin, decide, signinRequest } from '../helpers/console.ts';
import { clientIp, poll, refreshGrant, startFlow } from '../helpers/device.ts';
import { createAccount, createApiKey, mintSession, uniq, type TestAccount } from '../helpers/fixtures.ts';
import { until } from '../helpers/processes.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// Offboarding through the admin CLI, a process of its own, while two replicas serve from one
// Postgres and one Redis: whatever it ends, both replicas refuse within a second.
const ISSUER = 'https://idp.offboarding.example';
let server: TestServer;
let other: TestServer;
beforeAll(async () => {
  server = await startServer({ config: { edition: 'enterprise' } });
  other = await startServer({ config: { edition: 'enterprise' } });
});
afterAll(async () => {
  await other.close();
  await server.close();
});

const status = (s: TestServer, path: string, headers: Record<string, string>) => fetch(`${s.url}${path}`, { headers }).then((r) => r.status);
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

/** Everything an account can hold: two device sessions (one refreshed), an API key, a console session on each replica. */
async function holdings(account: TestAccount) {
  const laptop = await mintSession(server, account, 'laptop');
  const desk = await mintSession(server, account, 'desk');
  const refreshed = await (await refreshGrant(server, desk.refresh!)).json();
  const key = await createApiKey(server.db, account.id, ['apps:read']);
  const consoles = [await consoleSignin(server, account), await consoleSignin(other, account)];
  const bearers = [laptop.access, refreshed.access_token as string, key];
  const refreshTokens = [laptop.refresh!, refreshed.refresh_token as string];
  // Every replica has seen (and cached) every one of them.
  for (const s of [server, other]) {
    for (const t of bearers) expect(await status(s, '/openapi/v1/me', bearer(t))).toBe(200);
    for (const c of consoles) expect(await status(s, '/console/api/session', { cookie: c.cookie })).toBe(200);
  }
  return { bearers, refreshTokens, consoles };
}

describe('admin disable-account', () => {
  it('when an account is disabled, then sign-in is refused and its sessions, API keys and console sessions end at once on every replica; another account is untouched', async () => {
    const leaver = await createAccount(server.db);
    const stayer = await createAccount(server.db);
    const gone = await holdings(leaver);
    const kept = await holdings(stayer);
    // A device login the leaver approved but the CLI has not collected yet.
    const pending = await startFlow(server, { device_label: 'pending' });
    expect((await decide(server, 'approve', pending.user_code, gone.consoles[0]!)).status).toBe(200);

    const run = await admin('disable-account', '--email', leaver.email.toUpperCase(), '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      account_id: leaver.id,
      email: leaver.email,
      newly_disabled: true,
      sessions_ended: 2,
      api_keys_revoked: 1,
      console_sessions_ended: 2,
    });
    for (const s of [server, other]) {
      for (const t of gone.bearers) await until(async () => (await status(s, '/openapi/v1/me', bearer(t))) === 401, 'a bearer of the disabled account refused', 1_000, 10);
      for (const c of gone.consoles) await until(async () => (await status(s, '/console/api/session', { cookie: c.cookie })) === 401, 'a console session refused', 1_000, 10);
      for (const t of kept.bearers) expect(await status(s, '/openapi/v1/me', bearer(t))).toBe(200);
      for (const c of kept.consoles) expect(await status(s, '/console/api/session', { cookie: c.cookie })).toBe(200);
    }
    for (const t of gone.refreshTokens) expect((await refreshGrant(other, t)).status).toBe(400);
    const collect = await poll(other, pending.device_code);
    expect(collect.status).toBe(400);
    expect(await collect.json()).toMatchObject({ error: 'invalid_grant', error_description: 'This account is disabled.' });
    const signin = await signinRequest(other, leaver.email, leaver.password, clientIp());
    expect(signin.status).toBe(403);
    expect((await signin.json()).error).toBe('account_disabled');
    // A wrong password says nothing about the account.
    expect((await signinRequest(other, leaver.email, 'wrong', clientIp())).status).toBe(401);
  });

  it('when it is disabled again and then enabled, then the second disable says so, and after enabling the password signs in but nothing ended comes back', async () => {
    const account = await createAccount(server.db);
    const { bearers } = await holdings(account);
    expect((await admin('disable-account', '--email', account.email)).stdout).toMatch(/^disabled: .* \(2 device sessions, 1 API key and 2 console sessions ended\)/);
    expect((await admin('disable-account', '--email', account.email)).stdout).toMatch(/^already disabled: .* \(0 device sessions, 0 API keys and 0 console sessions ended\)/);
    const enabled = await admin('enable-account', '--email', account.email, '--json');
    expect(JSON.parse(enabled.stdout)).toEqual({ account_id: account.id, email: account.email, newly_enabled: true });
    expect((await signinRequest(server, account.email, account.password, clientIp())).status).toBe(200);
    for (const t of bearers) expect(await status(other, '/openapi/v1/me', bearer(t))).toBe(401);
  });

  it('when the email is unknown, then exit 1 with the reason', async () => {
    const run = await admin('disable-account', '--email', `nobody-${uniq()}@example.test`);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no account with email nobody-/);
  });
});

describe('admin revoke-subject', () => {
  it("when an external subject is revoked, then every device session of theirs ends on every replica, another subject's and another issuer's keep working", async () => {
    const email = `ext-${uniq()}@corp.example`;
    const mint = (issuer: string, mail: string, deviceLabel: string) =>
      server.app.services.tokens.mintExternalToken({ subject: { issuer, sub: `sub-${mail}`, email: mail, name: null }, clientId: 'tessera-cli', deviceLabel });
    const gone = [await mint(ISSUER, email, 'laptop'), await mint(ISSUER, email, 'desk')];
    const kept = [await mint(ISSUER, `other-${email}`, 'laptop'), await mint('https://another-idp.example', email, 'laptop')];
    for (const t of [...gone, ...kept]) expect(await status(other, '/openapi/v1/me', bearer(t.token))).toBe(200);

    const run = await admin('revoke-subject', '--issuer', ISSUER, '--email', email.toUpperCase(), '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ issuer: ISSUER, email, sessions_ended: 2 });
    for (const t of gone) {
      await until(async () => (await status(other, '/openapi/v1/me', bearer(t.token))) === 401, 'a revoked subject refused', 1_000, 10);
      expect((await refreshGrant(other, t.refresh!.token)).status).toBe(400);
    }
    for (const t of kept) expect(await status(other, '/openapi/v1/me', bearer(t.token))).toBe(200);
  });
});
