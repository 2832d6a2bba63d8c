import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneTokens } from '../../src/auth/pruner.ts';
import { createAccount, createApiKey, mintToken } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const me = (t: string) => fetch(`${server.url}/openapi/v1/me`, { headers: bearer(t) });

describe('device sessions', () => {
  it('when listing, then each live device authorization, with the current one marked', async () => {
    const a = await createAccount(server.db);
    const laptop = await mintToken(server, a, 'laptop');
    await mintToken(server, a, 'desktop');
    const { data, response } = await server.api.GET('/me/sessions', { headers: bearer(laptop) });
    expect(response.status).toBe(200);
    expectMatchesSpec('get', '/me/sessions', 200, data);
    expect(data!.total).toBe(2);
    expect(data!.data.find((x) => x.current)?.device_label).toBe('laptop');
  });

  it('when signing out this device, then its token stops working and the other device keeps going', async () => {
    const a = await createAccount(server.db);
    const laptop = await mintToken(server, a, 'laptop');
    const desktop = await mintToken(server, a, 'desktop');
    const res = await server.api.DELETE('/me/sessions/self', { headers: bearer(laptop) });
    expect(res.response.status).toBe(204);
    expect((await me(laptop)).status).toBe(401);
    expect((await me(desktop)).status).toBe(200);
  });

  it("when revoking a session by id, then it works for one's own and 404 for another subject's", async () => {
    const a = await createAccount(server.db);
    const b = await createAccount(server.db);
    const aToken = await mintToken(server, a, 'one');
    const aOther = await mintToken(server, a, 'two');
    const bToken = await mintToken(server, b, 'one');
    const list = await server.api.GET('/me/sessions', { headers: bearer(aToken) });
    const otherId = list.data!.data.find((x) => x.device_label === 'two')!.id;
    const stranger = await server.api.DELETE('/me/sessions/{session_id}', { headers: bearer(bToken), params: { path: { session_id: otherId } } });
    expect(stranger.response.status).toBe(404);
    expect((await me(aOther)).status).toBe(200);
    const own = await server.api.DELETE('/me/sessions/{session_id}', { headers: bearer(aToken), params: { path: { session_id: otherId } } });
    expect(own.response.status).toBe(204);
    expect((await me(aOther)).status).toBe(401);
  });

  it('when an API key tries to manage sessions, then 403 insufficient_scope', async () => {
    const a = await createAccount(server.db);
    const key = await createApiKey(server.db, a.id, ['apps:read', 'apps:run']);
    const res = await fetch(`${server.url}/openapi/v1/me/sessions`, { headers: bearer(key) });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toBe('insufficient_scope');
  });
});

describe('pruner', () => {
  it('when rows are revoked or expired past retention, then they are deleted; live and recent ones stay; then they are gone', async () => {
    const a = await createAccount(server.db);
    const live = await mintToken(server, a, 'live');
    await mintToken(server, a, 'old-revoked');
    await mintToken(server, a, 'old-expired');
    await mintToken(server, a, 'recent-revoked');
    await server.db.query(
      `UPDATE oauth_access_tokens SET revoked_at = now() - interval '40 days', token_hash = NULL WHERE account_id = $1 AND device_label = 'old-revoked'`,
      [a.id],
    );
    await server.db.query(
      `UPDATE oauth_access_tokens SET expires_at = now() - interval '31 days', refresh_expires_at = now() - interval '31 days' WHERE account_id = $1 AND device_label = 'old-expired'`,
      [a.id],
    );
    await server.db.query(`UPDATE oauth_access_tokens SET revoked_at = now() - interval '1 day', token_hash = NULL WHERE account_id = $1 AND device_label = 'recent-revoked'`, [
      a.id,
    ]);
    const result = await pruneTokens(server.db, server.store, 30, server.app.services.log);
    expect(result!.tokens).toBeGreaterThanOrEqual(2);
    const left = await server.db.query<{ device_label: string }>('SELECT device_label FROM oauth_access_tokens WHERE account_id = $1 ORDER BY device_label', [a.id]);
    expect(left.map((r) => r.device_label)).toEqual(['live', 'recent-revoked']);
    expect((await me(live)).status).toBe(200);
  });

  it('when another replica holds the lock, then prune does nothing and returns null', async () => {
    const held = await server.store.withLock('token-pruner', 5_000, () => pruneTokens(server.db, server.store, 30, server.app.services.log));
    expect(held).toBeNull();
  });
});
