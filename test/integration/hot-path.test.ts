import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/storage/store/index.ts';
import { countingStore } from '../helpers/counting-store.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { refreshGrant } from '../helpers/device.ts';
import { dpopHeaders, proof, proofKey } from '../helpers/dpop.ts';
import { createAccount, member, mintSession } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// The shortcuts of the warm path (docs/performance.md) that only production takes: there,
// responses are not validated, so GETs skip request validation when nothing but their path
// can fail it, and a path that passed once is not checked again. Every response here is
// still checked against openapi.yaml on the wire (test/helpers/server.ts).
const ORIGIN = 'https://console.example';
let server: TestServer;
let store: RedisStore;
let counting: ReturnType<typeof countingStore>;

beforeAll(async () => {
  store = await RedisStore.connect(TEST_REDIS_URL);
  counting = countingStore(store);
  server = await startServer({ store: counting, config: { env: 'production', corsAllowOrigins: [ORIGIN] } });
});
afterAll(async () => {
  await server.close();
  await store.close();
});

const api = (path: string, init: RequestInit = {}) => fetch(`${server.url}/openapi/v1${path}`, init);

/** Three requests in a row, each answered 200 with no Postgres query and one store round trip. */
async function expectWarm(request: () => Promise<Response>, check: (res: Response) => Promise<void> = async () => undefined): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const queries = server.db.queries;
    counting.reset();
    const res = await request();
    expect(res.status).toBe(200);
    await check(res);
    expect(server.db.queries - queries).toBe(0);
    expect(counting.calls).toBe(1);
  }
}

describe('the warm path in production', () => {
  it('when /me is warm, then no Postgres query, one store round trip, and every header the cold path has', async () => {
    const m = await member(server);
    expect((await api('/me', { headers: m.auth })).status).toBe(200);
    const queries = server.db.queries;
    counting.reset();
    const res = await api('/me', { headers: { ...m.auth, Origin: ORIGIN, 'X-Request-Id': 'warm-1' } });
    expect(res.status).toBe(200);
    expect(server.db.queries - queries).toBe(0);
    expect(counting.calls).toBe(1);
    expect(res.headers.get('x-request-id')).toBe('warm-1');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('vary')).toBe('Origin');
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('ratelimit-limit')).toBe('60');
    expect(res.headers.get('ratelimit-remaining')).toBe('58');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect((await res.json()).sub).toBe(m.account.id);
  });

  it('when /me is warm with an access token from a refresh, then still no Postgres query and one store round trip', async () => {
    const s = await mintSession(server, await createAccount(server.db));
    const renewed = (await (await refreshGrant(server, s.refresh!)).json()) as { access_token: string };
    const auth = { Authorization: `Bearer ${renewed.access_token}` };
    expect((await api('/me', { headers: auth })).status).toBe(200);
    const queries = server.db.queries;
    counting.reset();
    expect((await api('/me', { headers: auth })).status).toBe(200);
    expect(server.db.queries - queries).toBe(0);
    expect(counting.calls).toBe(1);
  });

  it('when /me is warm with a DPoP-bound token, then still no Postgres query and one store round trip (the proof\'s jti goes in the rate-limit script)', async () => {
    const key = await proofKey();
    const account = await createAccount(server.db);
    const t = await server.app.services.tokens.mintAccountToken({ accountId: account.id, email: account.email, clientId: 'tessera-cli', deviceLabel: 'dpop', dpopJkt: key.jkt });
    const me = async () => api('/me', { headers: dpopHeaders(t.token, await proof(key, { htm: 'GET', htu: `${server.url}/openapi/v1/me`, token: t.token })) });
    expect((await me()).status).toBe(200);
    await expectWarm(me);
  });

  it('when a same-origin request has no Origin, then it still varies on Origin and gets no CORS grant', async () => {
    const m = await member(server);
    const res = await api('/me', { headers: m.auth });
    expect(res.headers.get('vary')).toBe('Origin');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when app info is warm, then no Postgres query and one store round trip, answer after answer', async () => {
    const m = await member(server);
    const info = () => api(`/apps/${m.appId}/info`, { headers: m.auth });
    expect((await info()).status).toBe(200);
    await expectWarm(info, async (res) => expect((await res.json()).id).toBe(m.appId));
  });
});

describe('request validation in production', () => {
  it('when a path passed validation before, then a malformed parameter on the same route is still refused with 400', async () => {
    const m = await member(server);
    // member()'s app is a chat app: it has conversations.
    const messages = (id: string, query = '') => api(`/apps/${m.appId}/conversations/${id}/messages${query}`, { headers: m.auth });
    const unknown = randomUUID();
    // Valid, twice (the second time remembered): the handler answers, 404 for a conversation that does not exist.
    for (let i = 0; i < 2; i++) expect((await messages(unknown)).status).toBe(404);
    const bad = await messages('not-a-uuid');
    expect(bad.status).toBe(400);
    const body = await bad.json();
    expect(body.error).toBe('invalid_request');
    expect(body.details).toEqual([expect.objectContaining({ path: '/params/conversation_id' })]);
    // A query string is validated whatever the path.
    const badQuery = await messages(unknown, '?limit=lots');
    expect(badQuery.status).toBe(400);
    expect((await badQuery.json()).details).toEqual([expect.objectContaining({ path: '/query/limit' })]);
    expect((await messages(unknown, '?unknown=1')).status).toBe(400);
  });

  it('when a list route without path parameters gets a bad query, then 400, and without a query it answers', async () => {
    const m = await member(server);
    expect((await api('/apps', { headers: m.auth })).status).toBe(200);
    const res = await api('/apps?page=0', { headers: m.auth });
    expect(res.status).toBe(400);
    expect((await res.json()).details).toEqual([expect.objectContaining({ path: '/query/page' })]);
  });

  it('when a path was answered before, then another method on it still gets 405 with the same Allow, and OPTIONS 204', async () => {
    const m = await member(server);
    expect((await api('/me', { headers: m.auth })).status).toBe(200);
    const wrong = await api('/me', { method: 'DELETE', headers: m.auth });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, OPTIONS');
    expect((await wrong.json()).error).toBe('method_not_allowed');
    const options = await api('/me', { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, OPTIONS');
  });
});
