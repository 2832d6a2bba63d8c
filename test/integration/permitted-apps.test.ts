import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantAdmin } from '../../src/admin/grants-admin.ts';
import { RedisStore } from '../../src/storage/store/index.ts';
import { countingStore } from '../helpers/counting-store.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { createApiKey, createTestApp, createWorkspace, member, uniq } from '../helpers/fixtures.ts';
import { get, post, readEvents } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

const ISSUER = 'https://idp.corp.example';

let store: RedisStore;
let counting: ReturnType<typeof countingStore>;
let server: TestServer;
let other: TestServer;
let community: TestServer;
beforeAll(async () => {
  store = await RedisStore.connect(TEST_REDIS_URL);
  counting = countingStore(store);
  server = await startServer({ store: counting, config: { edition: 'enterprise' } });
  // A second replica sharing Redis (and Postgres).
  other = await startServer({ config: { edition: 'enterprise' } });
  community = await startServer({ config: { rateLimitPerToken: 2 } });
});
afterAll(async () => {
  await Promise.all([server.close(), other.close(), community.close()]);
  await store.close();
});

const admin = (s: TestServer) => new GrantAdmin(s.db, (appId) => s.app.services.grantVerdicts.invalidate(appId));
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

/** A tse_ token as the SSO branch mints it (test/integration/sso-device-flow.test.ts drives the real exchange). */
async function external(s: TestServer, email = `ext-${uniq()}@corp.example`, issuer = ISSUER, deviceLabel = 'laptop') {
  const sub = `sub-${uniq()}`;
  const minted = await s.app.services.tokens.mintExternalToken({ subject: { issuer, sub, email, name: 'Ext User' }, clientId: 'tessera-cli', deviceLabel });
  return { token: minted.token, id: minted.id, sub, email, issuer };
}

async function externalApp(s: TestServer, workspaceId?: string, over: Parameters<typeof createTestApp>[2] = {}) {
  return createTestApp(s.db, workspaceId ?? (await createWorkspace(s.db)), { accessMode: 'external', ...over });
}

describe('GET /apps/permitted in the community edition', () => {
  it('when any caller asks, then 404 before the rate limit (no RateLimit headers, no bucket used)', async () => {
    const m = await member(community);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${community.url}/openapi/v1/apps/permitted`, { headers: m.auth });
      expect(res.status).toBe(404);
      expect(res.headers.get('ratelimit-limit')).toBeNull();
      expectMatchesSpec('get', '/apps/permitted', 404, await res.json());
    }
    expect((await fetch(`${community.url}/openapi/v1/apps/permitted?workspace_id=x`)).status).toBe(404);
    // The token's bucket (limit 2) is untouched.
    expect((await fetch(`${community.url}/openapi/v1/me`, { headers: m.auth })).status).toBe(200);
    expect((await fetch(`${community.url}/openapi/v1/me`, { headers: m.auth })).status).toBe(200);
  });
});

describe('GET /apps/permitted (enterprise)', () => {
  it('when grants exist by email and by domain across workspaces, then exactly those apps are listed, with filters and pages', async () => {
    const e = await external(server, `ada-${uniq()}@granted-${uniq()}.example`);
    const domain = e.email.split('@')[1]!;
    const wsA = await createWorkspace(server.db);
    const wsB = await createWorkspace(server.db);
    const byEmail = await externalApp(server, wsA, { name: 'Support bot' });
    const byDomain = await externalApp(server, wsB, { name: 'Writer', mode: 'completion', config: { model: { provider: 'echo', name: 'e' }, prompt: '{{ x }}' } });
    const notGranted = await externalApp(server, wsA);
    const dormant = await createTestApp(server.db, wsA); // access mode workspace: a grant there does nothing
    const otherIssuer = await externalApp(server, wsB);
    const disabled = await externalApp(server, wsB, { enableApi: false });
    const g = admin(server);
    await g.grant(byEmail, { issuer: ISSUER, email: e.email.toUpperCase() });
    await g.grant(byDomain, { issuer: ISSUER, domain });
    await g.grant(otherIssuer, { issuer: 'https://other-idp.example', email: e.email });
    await g.grant(disabled, { issuer: ISSUER, email: e.email });
    await server.db.query("INSERT INTO app_grants (app_id, subject_issuer, email) VALUES ($1, $2, $3)", [dormant, ISSUER, e.email]);

    const all = await server.api.GET('/apps/permitted', { headers: bearer(e.token) });
    expect(all.response.status).toBe(200);
    expectMatchesSpec('get', '/apps/permitted', 200, all.data);
    expect(all.data!.data.map((a) => a.id).sort()).toEqual([byEmail, byDomain].sort());
    expect(all.data).toMatchObject({ total: 2, page: 1, has_more: false });
    expect(all.data!.data.map((a) => a.id)).not.toContain(notGranted);

    const byMode = await server.api.GET('/apps/permitted', { headers: bearer(e.token), params: { query: { mode: 'completion' } } });
    expect(byMode.data!.data.map((a) => a.name)).toEqual(['Writer']);
    const byName = await server.api.GET('/apps/permitted', { headers: bearer(e.token), params: { query: { name: 'SUPP' } } });
    expect(byName.data!.data.map((a) => a.id)).toEqual([byEmail]);
    const paged = await server.api.GET('/apps/permitted', { headers: bearer(e.token), params: { query: { limit: 1 } } });
    expect(paged.data).toMatchObject({ total: 2, limit: 1, has_more: true });

    // Someone else at the same IdP, outside the domain, sees nothing.
    const stranger = await external(server);
    const none = await server.api.GET('/apps/permitted', { headers: bearer(stranger.token) });
    expect(none.data).toMatchObject({ total: 0, data: [] });
  });

  it.each(['workspace_id=00000000-0000-4000-8000-000000000000', 'tag=demo'])('when %s is sent, then 400 invalid_request', async (query) => {
    const e = await external(server);
    const res = await fetch(`${server.url}/openapi/v1/apps/permitted?${query}`, { headers: bearer(e.token) });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error).toBe('invalid_request');
    expectMatchesSpec('get', '/apps/permitted', 400, body);
  });

  it('when an account token (tsa_ or tsk_) asks, then 403 wrong_subject', async () => {
    const m = await member(server);
    const key = await createApiKey(server.db, m.account.id, ['apps:read']);
    for (const token of [m.token, key]) {
      const res = await fetch(`${server.url}/openapi/v1/apps/permitted`, { headers: bearer(token) });
      expect(res.status).toBe(403);
      const body = await res.json();
      expect(body.error).toBe('wrong_subject');
      expectMatchesSpec('get', '/apps/permitted', 403, body);
    }
  });

  it('when no token is sent, then 401 (the route exists in this edition)', async () => {
    const res = await fetch(`${server.url}/openapi/v1/apps/permitted`);
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('missing_token');
  });
});

describe('external subjects on account routes', () => {
  it.each([
    ['get', '/apps'],
    ['get', '/workspaces'],
    ['get', '/me/api-keys'],
    ['post', '/me/api-keys'],
  ] as const)('when a tse_ token calls %s %s, then 403 wrong_subject', async (method, path) => {
    const e = await external(server);
    const res = await fetch(`${server.url}/openapi/v1${path}`, {
      method: method.toUpperCase(),
      headers: { ...bearer(e.token), 'content-type': 'application/json' },
      body: method === 'post' ? JSON.stringify({ name: 'x', scopes: ['apps:run'] }) : undefined,
    });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error).toBe('wrong_subject');
    expectMatchesSpec(method, path, 403, body);
  });
});

describe('the grant strategy on app routes', () => {
  it('when the app is granted, then info and runs work; never granted, in another mode, or revoked, then 404', async () => {
    const e = await external(server);
    const granted = await externalApp(server);
    const never = await externalApp(server);
    const m = await member(server); // a workspace app, not external
    await admin(server).grant(granted, { issuer: ISSUER, email: e.email });

    const info = await get(server, `/apps/${granted}/info`, e.token);
    expect(info.status).toBe(200);
    expectMatchesSpec('get', '/apps/{app_id}/info', 200, await info.json());
    for (const id of [never, m.appId, '00000000-0000-4000-8000-000000000000']) {
      const res = await get(server, `/apps/${id}/info`, e.token);
      expect(res.status).toBe(404);
      expectMatchesSpec('get', '/apps/{app_id}/info', 404, await res.json());
      expect((await post(server, `/apps/${id}/chat-messages`, e.token, { inputs: {}, query: 'hi' })).status).toBe(404);
    }

    await admin(server).revoke(granted, { issuer: ISSUER, email: e.email });
    expect((await get(server, `/apps/${granted}/info`, e.token)).status).toBe(404);
    expect((await post(server, `/apps/${granted}/chat-messages`, e.token, { inputs: {}, query: 'hi' })).status).toBe(404);
  });

  it('when an account member calls an external app of their workspace, then it still works (external admits members too)', async () => {
    const m = await member(server);
    const app = await externalApp(server, m.workspaceId);
    expect((await get(server, `/apps/${app}/info`, m.token)).status).toBe(200);
  });

  it('when an external subject runs a chat app, then the run is theirs: an end-user caller, history no one else sees', async () => {
    const app = await externalApp(server);
    const domain = `team-${uniq()}.example`;
    const ada = await external(server, `ada@${domain}`);
    const bob = await external(server, `bob@${domain}`);
    await admin(server).grant(app, { issuer: ISSUER, domain });

    const res = await post(server, `/apps/${app}/chat-messages`, ada.token, { inputs: {}, query: 'hello there', user: 'someone-else' });
    expect(res.status).toBe(200);
    const answer = await res.json();
    expectMatchesSpec('post', '/apps/{app_id}/chat-messages', 200, answer);
    const [row] = await server.db.query<{ subject: string }>('SELECT subject FROM conversations WHERE id = $1', [answer.conversation_id]);
    expect(row!.subject).toBe(`external:${ISSUER.replaceAll(':', '%3A')}:${ada.sub}`);

    const streamed = await post(server, `/apps/${app}/chat-messages`, ada.token, { inputs: {}, query: 'and again', response_mode: 'streaming', conversation_id: answer.conversation_id });
    const events = await readEvents(streamed);
    expect(events.filter((e) => e.event === 'message').map((e) => e.answer).join('')).toBe('and again');

    const mine = await (await get(server, `/apps/${app}/conversations`, ada.token)).json();
    expect(mine.data.map((c: { id: string }) => c.id)).toEqual([answer.conversation_id]);
    const theirs = await (await get(server, `/apps/${app}/conversations`, bob.token)).json();
    expect(theirs.total).toBe(0);
    expect((await get(server, `/apps/${app}/conversations/${answer.conversation_id}/messages`, bob.token)).status).toBe(404);
    const continued = await post(server, `/apps/${app}/chat-messages`, bob.token, { inputs: {}, query: 'x', conversation_id: answer.conversation_id });
    expect(continued.status).toBe(404);
  });

  it('when a granted app is read warm, then no Postgres query and one store round trip', async () => {
    const e = await external(server);
    const app = await externalApp(server);
    await admin(server).grant(app, { issuer: ISSUER, email: e.email });
    expect((await get(server, `/apps/${app}/info`, e.token)).status).toBe(200);
    await server.app.services.authenticator.flushLastUsed();
    const queries = server.db.queries;
    counting.reset();
    for (let i = 0; i < 5; i++) expect((await get(server, `/apps/${app}/info`, e.token)).status).toBe(200);
    expect(server.db.queries - queries).toBe(0);
    expect(counting.calls).toBe(5);
  });
});

describe('grant changes across replicas', () => {
  async function eventually(url: string, token: string, status: number): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < 1_000) {
      if ((await fetch(url, { headers: bearer(token) })).status === status) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`still not ${status} after 1 s`);
  }

  it('when a grant is revoked on one replica, then the other (with the verdict cached) answers 404 within one second', async () => {
    const e = await external(server);
    const app = await externalApp(server);
    await admin(server).grant(app, { issuer: ISSUER, email: e.email });
    const url = `${other.url}/openapi/v1/apps/${app}/info`;
    expect((await fetch(url, { headers: bearer(e.token) })).status).toBe(200);
    await admin(server).revoke(app, { issuer: ISSUER, email: e.email });
    expect(await eventually(url, e.token, 404)).toBeLessThan(1_000);
  });

  it('when a grant is added on one replica, then the other (with "not granted" cached) answers 200 within one second', async () => {
    const e = await external(server);
    const app = await externalApp(server);
    const url = `${other.url}/openapi/v1/apps/${app}/info`;
    expect((await fetch(url, { headers: bearer(e.token) })).status).toBe(404);
    await admin(server).grant(app, { issuer: ISSUER, email: e.email });
    expect(await eventually(url, e.token, 200)).toBeLessThan(1_000);
  });
});

describe('tse_ tokens: principal, sessions, rotation', () => {
  it('when a tse_ token calls /me, then the external principal: IdP sub and issuer, no workspace', async () => {
    const e = await external(server);
    const res = await server.api.GET('/me', { headers: bearer(e.token) });
    expect(res.data).toMatchObject({
      sub: e.sub,
      principal_type: 'user',
      email: e.email,
      display_name: 'Ext User',
      prefix: 'tse_',
      scopes: ['apps:run', 'apps:read:permitted'],
      subject_issuer: ISSUER,
      default_workspace_id: null,
    });
    expectMatchesSpec('get', '/me', 200, res.data);
  });

  it("when a subject lists its sessions, then only its own device logins; another's id is 404; sign-out of this device works", async () => {
    const email = `sessions-${uniq()}@corp.example`;
    const laptop = await external(server, email, ISSUER, 'laptop');
    const desktop = await external(server, email, ISSUER, 'desktop');
    const stranger = await external(server);
    const account = await member(server);
    const list = await server.api.GET('/me/sessions', { headers: bearer(laptop.token) });
    expect(list.response.status).toBe(200);
    expectMatchesSpec('get', '/me/sessions', 200, list.data);
    expect(list.data!.data.map((r) => r.device_label).sort()).toEqual(['desktop', 'laptop']);
    expect(list.data!.data.find((r) => r.device_label === 'laptop')!.current).toBe(true);
    // Neither another external subject nor an account can touch these sessions.
    expect((await server.api.DELETE('/me/sessions/{session_id}', { headers: bearer(stranger.token), params: { path: { session_id: desktop.id } } })).response.status).toBe(404);
    expect((await server.api.DELETE('/me/sessions/{session_id}', { headers: account.auth, params: { path: { session_id: desktop.id } } })).response.status).toBe(404);
    expect((await server.api.DELETE('/me/sessions/{session_id}', { headers: bearer(laptop.token), params: { path: { session_id: desktop.id } } })).response.status).toBe(204);
    expect((await fetch(`${server.url}/openapi/v1/me`, { headers: bearer(desktop.token) })).status).toBe(401);
    expect((await server.api.DELETE('/me/sessions/self', { headers: bearer(laptop.token) })).response.status).toBe(204);
    expect((await fetch(`${server.url}/openapi/v1/me`, { headers: bearer(laptop.token) })).status).toBe(401);
  });

  it('when the same subject logs in again from the same device, then the token rotates in place and the old one stops working on every replica', async () => {
    const first = await external(server, `rotate-${uniq()}@corp.example`);
    expect((await fetch(`${other.url}/openapi/v1/me`, { headers: bearer(first.token) })).status).toBe(200);
    const again = await server.app.services.tokens.mintExternalToken({
      subject: { issuer: ISSUER, sub: first.sub, email: first.email, name: 'Ext User' },
      clientId: 'tessera-cli',
      deviceLabel: 'laptop',
    });
    expect(again.id).toBe(first.id);
    expect(again.rotated).toBe(true);
    const start = Date.now();
    while ((await fetch(`${other.url}/openapi/v1/me`, { headers: bearer(first.token) })).status !== 401) {
      if (Date.now() - start > 1_000) throw new Error('old token still accepted after 1 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await fetch(`${other.url}/openapi/v1/me`, { headers: bearer(again.token) })).status).toBe(200);
  });

  it('when a tse_ token is revoked (RFC 7009), then it is refused', async () => {
    const e = await external(server);
    const res = await fetch(`${server.url}/openapi/v1/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: e.token }).toString(),
    });
    expect(res.status).toBe(200);
    expect((await fetch(`${server.url}/openapi/v1/me`, { headers: bearer(e.token) })).status).toBe(401);
  });
});
