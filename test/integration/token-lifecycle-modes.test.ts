import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneTokens } from '../../src/auth/pruner.ts';
import { generateToken, hashToken } from '../../src/auth/token-kinds.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { form, GRANT, poll, refreshGrant, startFlow } from '../helpers/device.ts';
import { createAccount, mintSession } from '../helpers/fixtures.ts';
import { expectOAuthError } from '../helpers/oauth.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// The lifecycle's other settings and neighbours: OAUTH_REFRESH_TOKENS=false (today's behaviour,
// exactly), tokens made before refresh tokens existed, the in-process store, and the pruner.
let legacy: TestServer;
let server: TestServer;
beforeAll(async () => {
  legacy = await startServer({ config: { refreshTokens: null } });
  server = await startServer();
});
afterAll(async () => {
  await legacy.close();
  await server.close();
});

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const me = (s: TestServer, t: string) => fetch(`${s.url}/openapi/v1/me`, { headers: bearer(t) });

async function deviceLogin(s: TestServer, label: string) {
  const account = await createAccount(s.db);
  const flow = await startFlow(s, { device_label: label });
  expect((await decide(s, 'approve', flow.user_code, await consoleSignin(s, account))).status).toBe(200);
  const res = await poll(s, flow.device_code);
  expect(res.status).toBe(200);
  return { account, body: (await res.json()) as Record<string, unknown> };
}

describe('OAUTH_REFRESH_TOKENS=false', () => {
  it('when a device logs in, then one token of OAUTH_ACCESS_TOKEN_TTL_DAYS and no refresh token, as before', async () => {
    const { body } = await deviceLogin(legacy, 'old-style');
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    expect(body.expires_in).toBeGreaterThan(14 * 86400 - 10);
    const row = await legacy.db.one<{ refresh_token_hash: string | null; refresh_expires_at: Date | null; session_expires_at: Date | null }>(
      'SELECT refresh_token_hash, refresh_expires_at, session_expires_at FROM oauth_access_tokens WHERE token_hash = $1',
      [hashToken(body.access_token as string)],
    );
    expect(row).toEqual({ refresh_token_hash: null, refresh_expires_at: null, session_expires_at: null });
  });

  it('when the metadata is read or the refresh grant is tried, then only the device grant exists', async () => {
    const meta = await (await fetch(`${legacy.url}/.well-known/oauth-authorization-server`)).json();
    expect(meta.grant_types_supported).toEqual([GRANT]);
    const minted = await mintSession(server, await createAccount(server.db));
    const body = await expectOAuthError(await refreshGrant(legacy, minted.refresh!), 400, 'unsupported_grant_type');
    expect(body.error_description).toBe(`Supported grant types: ${GRANT}.`);
  });

  it('when a device that had a refresh session logs in again here, then its refresh token ends with the old session', async () => {
    const account = await createAccount(server.db);
    const before = await mintSession(server, account, 'switched');
    const after = await legacy.app.services.tokens.mintAccountToken({ accountId: account.id, email: account.email, clientId: 'tessera-cli', deviceLabel: 'switched' });
    expect(after.id).toBe(before.id);
    expect(after.refresh).toBeNull();
    await expectOAuthError(await refreshGrant(server, before.refresh!), 400, 'invalid_grant');
    expect((await me(server, after.token)).status).toBe(200);
  });
});

describe('tokens made before refresh tokens existed', () => {
  /** A row exactly as the device flow wrote it before this change: no refresh columns at all. */
  async function oldRow(account: { id: string; email: string }, expiresIn: string): Promise<{ token: string; id: string }> {
    const token = generateToken('tsa_');
    const [row] = await server.db.query<{ id: string }>(
      `INSERT INTO oauth_access_tokens (token_hash, prefix, subject_email, subject_issuer, account_id, client_id, device_label, expires_at)
       VALUES ($1, 'tsa_', $2, 'tessera:account', $3, 'tessera-cli', 'from-before', now() + $4::interval) RETURNING id`,
      [hashToken(token), account.email, account.id, expiresIn],
    );
    return { token, id: row!.id };
  }

  it('when one is used, then it keeps working until it expires, and is listed as a session without refreshes', async () => {
    const account = await createAccount(server.db);
    const old = await oldRow(account, '13 days');
    expect((await me(server, old.token)).status).toBe(200);
    const { data } = await server.api.GET('/me/sessions', { headers: bearer(old.token) });
    expect(data!.data).toEqual([expect.objectContaining({ id: old.id, device_label: 'from-before', last_refreshed_at: null, current: true })]);
    expect(Date.parse(data!.data[0]!.expires_at) - Date.now()).toBeGreaterThan(12 * 86400_000);
  });

  it('when one has expired, then 401 token_expired once and its row is revoked, as before', async () => {
    const account = await createAccount(server.db);
    const old = await oldRow(account, '-1 second');
    const res = await me(server, old.token);
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('token_expired');
    const row = await server.db.one<{ revoked_at: Date | null; token_hash: string | null }>('SELECT revoked_at, token_hash FROM oauth_access_tokens WHERE id = $1', [old.id]);
    expect(row!.revoked_at).toBeInstanceOf(Date);
    expect(row!.token_hash).toBeNull();
  });

  it('when one is revoked (RFC 7009), then it stops', async () => {
    const account = await createAccount(server.db);
    const old = await oldRow(account, '1 day');
    expect((await form(`${server.url}/openapi/v1/oauth/revoke`, { token: old.token })).status).toBe(200);
    expect((await me(server, old.token)).status).toBe(401);
  });
});

describe('the in-process store (one replica)', () => {
  it('when refreshes of one token race, then exactly one wins', async () => {
    const solo = await startServer({ store: 'memory' });
    try {
      const s = await mintSession(solo, await createAccount(solo.db));
      const results = await Promise.all(Array.from({ length: 8 }, () => refreshGrant(solo, s.refresh!)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 400)).toHaveLength(7);
      expect((await me(solo, s.access)).status).toBe(401);
    } finally {
      await solo.close();
    }
  });
});

describe('pruner', () => {
  it('when a refresh session has not refreshed for longer than the retention, then it stays while its refresh token lives, and its old spent tokens go', async () => {
    const account = await createAccount(server.db);
    const s = await mintSession(server, account, 'idle-but-alive');
    const next = await (await refreshGrant(server, s.refresh!)).json();
    await server.db.query(`UPDATE oauth_access_tokens SET expires_at = now() - interval '40 days' WHERE id = $1`, [s.id]);
    await server.db.query(`UPDATE oauth_spent_refresh_tokens SET spent_at = now() - interval '40 days' WHERE session_id = $1`, [s.id]);
    await pruneTokens(server.db, server.store, 30, server.app.services.log);
    expect(await server.db.query('SELECT 1 FROM oauth_access_tokens WHERE id = $1', [s.id])).toHaveLength(1);
    expect(await server.db.query('SELECT 1 FROM oauth_spent_refresh_tokens WHERE session_id = $1', [s.id])).toHaveLength(0);
    expect((await refreshGrant(server, next.refresh_token)).status).toBe(200);
  });
});
