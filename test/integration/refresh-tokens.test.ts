import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { refreshGrant, form } from '../helpers/device.ts';
import { createAccount, mintSession, uniq, type TestAccount } from '../helpers/fixtures.ts';
import { expectOAuthError } from '../helpers/oauth.ts';
import { until } from '../helpers/processes.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

// RFC 6749 §6 refresh with rotation and reuse detection (RFC 9700 §4.14.2), on two replicas
// that share Postgres and Redis: what one of them ends, the other refuses within a second.
const audit = auditLog();
let server: TestServer;
let other: TestServer;
beforeAll(async () => {
  const config = { knownClientIds: ['tessera-cli', 'other-cli'] };
  server = await startServer({ config, log: audit.log });
  other = await startServer({ config });
});
afterAll(async () => {
  await other.close();
  await server.close();
});

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const meOn = (s: TestServer, t: string) => fetch(`${s.url}/openapi/v1/me`, { headers: bearer(t) });
const refresh = (t: string, params: Record<string, string> = {}, on = server) => refreshGrant(on, t, params);
const refusedWithin1s = (s: TestServer, t: string, what: string) => until(async () => (await meOn(s, t)).status === 401, what, 1_000, 10);

interface Pair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_token_expires_in: number;
  token_type: string;
  scope: string;
}

async function refreshed(t: string, on = server): Promise<Pair> {
  const res = await refresh(t, {}, on);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Pair;
}

async function session(label = `dev-${uniq()}`): Promise<{ account: TestAccount; access: string; refresh: string; id: string }> {
  const account = await createAccount(server.db);
  const s = await mintSession(server, account, label);
  return { account, access: s.access, refresh: s.refresh!, id: s.id };
}

describe('rotation (RFC 6749 §6)', () => {
  it('when a refresh token is used, then a new access and refresh token come back, and the old access token stops working on every replica at once', async () => {
    const s = await session();
    expect(s.refresh).toMatch(/^tsr_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}$/);
    expect((await meOn(other, s.access)).status).toBe(200);
    const res = await refresh(s.refresh);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const body = (await res.json()) as Pair;
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'full' });
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'refresh_token_expires_in', 'scope', 'token_type']);
    expect(body.access_token).toMatch(/^tsa_/);
    expect(body.refresh_token).toMatch(/^tsr_/);
    expect(body.refresh_token).not.toBe(s.refresh);
    expect(body.expires_in).toBeGreaterThan(3590);
    expect(body.expires_in).toBeLessThanOrEqual(3600);
    expect(body.refresh_token_expires_in).toBeGreaterThan(30 * 86400 - 10);
    await refusedWithin1s(other, s.access, 'the replaced access token refused on the other replica');
    expect((await meOn(other, body.access_token)).status).toBe(200);
    // Only hashes are stored: the session row and the spent record.
    const row = await server.db.one<{ token_hash: string; refresh_token_hash: string; last_refreshed_at: Date | null }>(
      'SELECT token_hash, refresh_token_hash, last_refreshed_at FROM oauth_access_tokens WHERE id = $1',
      [s.id],
    );
    expect(row).toMatchObject({ token_hash: hashToken(body.access_token), refresh_token_hash: hashToken(body.refresh_token) });
    expect(row!.last_refreshed_at).toBeInstanceOf(Date);
    expect(await server.db.query('SELECT 1 FROM oauth_spent_refresh_tokens WHERE token_hash = $1 AND session_id = $2', [hashToken(s.refresh), s.id])).toHaveLength(1);
    expect(audit.events.some((e) => e.event === 'oauth.token_refreshed' && e.token_id === s.id && e.client_id === 'tessera-cli')).toBe(true);
    expect(audit.lines.some((l) => l.includes(body.refresh_token) || l.includes(s.refresh) || l.includes(body.access_token))).toBe(false);
  });

  it('when refreshed again and again, then each new refresh token works once, on either replica', async () => {
    const s = await session();
    let current = s.refresh;
    for (let i = 0; i < 4; i++) current = (await refreshed(current, i % 2 ? other : server)).refresh_token;
    expect(await server.db.query('SELECT 1 FROM oauth_spent_refresh_tokens WHERE session_id = $1', [s.id])).toHaveLength(4);
  });

  it('when the session nears its absolute end, then neither token outlives it', async () => {
    const s = await session();
    await server.db.query(`UPDATE oauth_access_tokens SET session_expires_at = now() + interval '20 minutes' WHERE id = $1`, [s.id]);
    const body = await refreshed(s.refresh);
    expect(body.expires_in).toBeLessThanOrEqual(20 * 60);
    expect(body.refresh_token_expires_in).toBeLessThanOrEqual(20 * 60);
    expect(body.expires_in).toBeGreaterThan(19 * 60);
  });

  it('when a scope within the session is asked, then it refreshes; a scope beyond it is invalid_scope and spends nothing', async () => {
    const s = await session();
    await expectOAuthError(await refresh(s.refresh, { scope: 'apps:read:permitted nonsense' }), 400, 'invalid_scope');
    const body = (await (await refresh(s.refresh, { scope: 'apps:run' })).json()) as Pair;
    expect(body.scope).toBe('full');
  });
});

describe('refusals (RFC 6749 §5.2)', () => {
  it('when refresh_token is missing, then invalid_request; when it is not one of ours, then invalid_grant without a lookup', async () => {
    await expectOAuthError(await form(`${server.url}/openapi/v1/oauth/token`, { grant_type: 'refresh_token', client_id: 'tessera-cli' }), 400, 'invalid_request');
    const s = await session();
    const queries = server.db.queries;
    for (const bad of ['garbage', s.access, `${s.refresh.slice(0, -1)}${s.refresh.endsWith('A') ? 'B' : 'A'}`, s.refresh.replace('tsr_', 'tsa_')]) {
      await expectOAuthError(await refresh(bad), 400, 'invalid_grant');
    }
    expect(server.db.queries - queries).toBe(0);
    // The genuine one still works: nothing above touched it.
    await refreshed(s.refresh);
  });

  it('when another known client presents it, then invalid_grant, and the token stays unspent for its own client', async () => {
    const s = await session();
    await expectOAuthError(await refresh(s.refresh, { client_id: 'other-cli' }), 400, 'invalid_grant');
    await expectOAuthError(await refresh(s.refresh, { client_id: 'unknown-cli' }), 401, 'invalid_client');
    await refreshed(s.refresh);
  });

  it('when a refresh token is presented as a bearer, then 401 invalid_token before any lookup', async () => {
    const s = await session();
    const queries = server.db.queries;
    const res = await meOn(server, s.refresh);
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('invalid_token');
    expect(server.db.queries - queries).toBe(0);
  });

  it('when the refresh token has lapsed (idle), then invalid_grant and the session ends', async () => {
    const s = await session();
    await server.db.query(`UPDATE oauth_access_tokens SET refresh_expires_at = now() - interval '1 second' WHERE id = $1`, [s.id]);
    const body = await expectOAuthError(await refresh(s.refresh), 400, 'invalid_grant');
    expect(body.error_description).toMatch(/expired/);
    await refusedWithin1s(other, s.access, 'the access token of a lapsed session');
    const row = await server.db.one<{ revoked_at: Date | null; refresh_token_hash: string | null }>('SELECT revoked_at, refresh_token_hash FROM oauth_access_tokens WHERE id = $1', [s.id]);
    expect(row!.revoked_at).toBeInstanceOf(Date);
    expect(row!.refresh_token_hash).toBeNull();
  });

  it('when the account is disabled, then its refresh is refused', async () => {
    const s = await session();
    await server.db.query('UPDATE accounts SET disabled_at = now() WHERE id = $1', [s.account.id]);
    await expectOAuthError(await refresh(s.refresh), 400, 'invalid_grant');
    expect((await meOn(other, s.access)).status).toBe(401);
  });
});

describe('reuse detection (RFC 9700 §4.14.2)', () => {
  it('when a spent refresh token comes back within the grace window, then invalid_grant and nothing more: the session goes on', async () => {
    const s = await session();
    const next = await refreshed(s.refresh);
    const body = await expectOAuthError(await refresh(s.refresh), 400, 'invalid_grant');
    expect(body.error_description).toBe('The refresh token was already used.');
    expect((await meOn(other, next.access_token)).status).toBe(200);
    await refreshed(next.refresh_token);
    expect(audit.events.some((e) => e.event === 'oauth.refresh_token_reused' && e.token_id === s.id)).toBe(false);
  });

  it('when a spent refresh token comes back after the grace window, then the whole session is revoked on every replica, and audited', async () => {
    const s = await session();
    const next = await refreshed(s.refresh);
    expect((await meOn(other, next.access_token)).status).toBe(200);
    await server.db.query(`UPDATE oauth_spent_refresh_tokens SET spent_at = spent_at - interval '11 seconds' WHERE token_hash = $1`, [hashToken(s.refresh)]);
    const body = await expectOAuthError(await refresh(s.refresh, {}, other), 400, 'invalid_grant');
    expect(body.error_description).toMatch(/revoked/);
    await refusedWithin1s(server, next.access_token, 'the access token of a session whose refresh token was reused');
    expect((await meOn(other, next.access_token)).status).toBe(401);
    await expectOAuthError(await refresh(next.refresh_token), 400, 'invalid_grant');
    const row = await server.db.one<{ revoked_at: Date | null }>('SELECT revoked_at FROM oauth_access_tokens WHERE id = $1', [s.id]);
    expect(row!.revoked_at).toBeInstanceOf(Date);
  });

  it('when reuse is audited, then the event names the session, the client and the caller, never a token', async () => {
    const s = await session();
    await refreshed(s.refresh);
    await server.db.query(`UPDATE oauth_spent_refresh_tokens SET spent_at = spent_at - interval '1 minute' WHERE token_hash = $1`, [hashToken(s.refresh)]);
    await expectOAuthError(await refresh(s.refresh, {}, server), 400, 'invalid_grant');
    const event = audit.events.find((e) => e.event === 'oauth.refresh_token_reused' && e.token_id === s.id);
    expect(event).toMatchObject({ client_id: 'tessera-cli', session_revoked: true, request_id: expect.any(String), client_address: expect.any(String) });
    expect(JSON.stringify(event)).not.toContain('tsr_');
  });

  it('when two refreshes of one token race, on both replicas, then exactly one wins and the session goes on with the winner', async () => {
    const s = await session();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => refresh(s.refresh, {}, i % 2 ? other : server)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) expect((await r.json()).error).toBe('invalid_grant');
    const winner = (await ok[0]!.json()) as Pair;
    expect((await meOn(other, winner.access_token)).status).toBe(200);
    await refreshed(winner.refresh_token);
    expect(await server.db.query('SELECT 1 FROM oauth_spent_refresh_tokens WHERE session_id = $1', [s.id])).toHaveLength(2);
  });
});

describe('sessions: one approval and everything refreshed from it', () => {
  it('when listed, then the session shows when it was last refreshed and lives until its refresh token lapses', async () => {
    const s = await session('listed');
    const next = await refreshed(s.refresh);
    const { data, response } = await server.api.GET('/me/sessions', { headers: bearer(next.access_token) });
    expect(response.status).toBe(200);
    expectMatchesSpec('get', '/me/sessions', 200, data);
    expect(data!.total).toBe(1);
    const [row] = data!.data;
    expect(row).toMatchObject({ id: s.id, device_label: 'listed', current: true });
    expect(row!.last_refreshed_at).not.toBeNull();
    expect(Date.parse(row!.expires_at) - Date.now()).toBeGreaterThan(29 * 86400_000);
  });

  it('when the access token expires but the refresh token lives, then 401 token_expired, the session stays, and a refresh renews it', async () => {
    const s = await session();
    await server.db.query(`UPDATE oauth_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [s.id]);
    server.app.services.authenticator.cache.clear();
    const res = await meOn(server, s.access);
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('token_expired');
    const row = await server.db.one<{ revoked_at: Date | null; token_hash: string | null }>('SELECT revoked_at, token_hash FROM oauth_access_tokens WHERE id = $1', [s.id]);
    expect(row).toEqual({ revoked_at: null, token_hash: null });
    const next = await refreshed(s.refresh);
    expect((await meOn(other, next.access_token)).status).toBe(200);
  });

  for (const [how, end] of [
    ['DELETE /me/sessions/{id}', (s: { access: string; id: string }) => server.api.DELETE('/me/sessions/{session_id}', { headers: bearer(s.access), params: { path: { session_id: s.id } } }).then((r) => r.response.status)],
    ['DELETE /me/sessions/self', (s: { access: string }) => server.api.DELETE('/me/sessions/self', { headers: bearer(s.access) }).then((r) => r.response.status)],
    ['RFC 7009 revocation of the refresh token, hinted', (s: { refresh: string }) => revoke(s.refresh, 'refresh_token')],
    ['RFC 7009 revocation of the refresh token, unhinted', (s: { refresh: string }) => revoke(s.refresh)],
    ['RFC 7009 revocation of the refresh token, wrongly hinted', (s: { refresh: string }) => revoke(s.refresh, 'access_token')],
    ['RFC 7009 revocation of the access token', (s: { access: string }) => revoke(s.access)],
  ] as const) {
    it(`when the session is ended by ${how}, then its access and refresh tokens both stop, on every replica`, async () => {
      const s = await session();
      expect((await meOn(other, s.access)).status).toBe(200);
      expect([200, 204]).toContain(await end(s as never));
      await refusedWithin1s(other, s.access, 'the access token of an ended session');
      await expectOAuthError(await refresh(s.refresh, {}, other), 400, 'invalid_grant');
    });
  }

  it('when the same device logs in again, then the old session ends whole, and its spent refresh tokens are merely unknown to the new one', async () => {
    const s = await session('desk');
    const mid = await refreshed(s.refresh);
    const again = await server.app.services.tokens.mintAccountToken({ accountId: s.account.id, email: s.account.email, clientId: 'tessera-cli', deviceLabel: 'desk' });
    expect(again.id).toBe(s.id);
    await refusedWithin1s(other, mid.access_token, 'the old session after a new login from the device');
    await expectOAuthError(await refresh(mid.refresh_token), 400, 'invalid_grant');
    // The first refresh token was spent long ago in the old session: presenting it does not end the new one.
    await server.db.query(`UPDATE oauth_spent_refresh_tokens SET spent_at = spent_at - interval '1 hour' WHERE session_id = $1`, [s.id]);
    await expectOAuthError(await refresh(s.refresh), 400, 'invalid_grant');
    expect((await meOn(other, again.token)).status).toBe(200);
    await refreshed(again.refresh!.token);
  });
});

function revoke(token: string, hint?: string): Promise<number> {
  return form(`${server.url}/openapi/v1/oauth/revoke`, { token, ...(hint ? { token_type_hint: hint } : {}) }).then((r) => r.status);
}
