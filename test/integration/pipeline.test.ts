import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/auth/token-kinds.ts';
import { specOperations } from '../../src/http/spec.ts';
import { addMember, createAccount, createApiKey, createTestApp, createWorkspace, member, mintToken } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const get = (path: string, headers: Record<string, string>) => fetch(`${server.url}/openapi/v1${path}`, { headers });
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe('per-token rate limit (sliding minute)', () => {
  it('when the 61st request arrives within a minute, then 429 with Retry-After, and /me and /apps/{id}/info share one bucket', async () => {
    const m = await member(server);
    for (let i = 0; i < 30; i++) expect((await get('/me', m.auth)).status).toBe(200);
    for (let i = 0; i < 30; i++) expect((await get(`/apps/${m.appId}/info`, m.auth)).status).toBe(200);
    const res = await get(`/apps/${m.appId}/info`, m.auth);
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers.get('ratelimit-remaining')).toBe('0');
    const body = await res.json();
    expect(body).toMatchObject({ error: 'rate_limited' });
    expect(body.retry_after_ms).toBeGreaterThan(0);
    expectMatchesSpec('get', '/apps/{app_id}/info', 429, body);
    expect((await get('/me', m.auth)).status).toBe(429);
  });

  it('when an unknown token is replayed, then it consumes a bucket too and gets 429 after the limit', async () => {
    const unknown = bearer(generateToken('tsa_'));
    for (let i = 0; i < 60; i++) expect((await get('/me', unknown)).status).toBe(401);
    expect((await get('/me', unknown)).status).toBe(429);
  });

  it('when a revoked token is replayed, then it consumes its bucket too', async () => {
    const account = await createAccount(server.db);
    const token = await mintToken(server, account);
    await server.app.services.tokens.revokeByToken(token);
    for (let i = 0; i < 60; i++) expect((await get('/me', bearer(token))).status).toBe(401);
    expect((await get('/me', bearer(token))).status).toBe(429);
  });

  it('when one token is limited, then another token is not', async () => {
    const small = await startServer({ config: { rateLimitPerToken: 2 } });
    try {
      const a = await member(small);
      const b = await member(small);
      const call = (h: Record<string, string>) => fetch(`${small.url}/openapi/v1/me`, { headers: h });
      expect((await call(a.auth)).status).toBe(200);
      expect((await call(a.auth)).status).toBe(200);
      expect((await call(a.auth)).status).toBe(429);
      expect((await call(b.auth)).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});

describe('ScopeCheck', () => {
  it('when a key lacks apps:read, then GET /apps is 403 insufficient_scope with the scope in the challenge', async () => {
    const m = await member(server);
    const key = await createApiKey(server.db, m.account.id, ['apps:run']);
    const res = await get('/apps', bearer(key));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tessera", error="insufficient_scope", scope="apps:read"');
    const body = await res.json();
    expect(body.error).toBe('insufficient_scope');
    expectMatchesSpec('get', '/apps', 403, body);
  });

  it('when an API key tries to create an API key, then 403 (needs full)', async () => {
    const m = await member(server);
    const key = await createApiKey(server.db, m.account.id, ['apps:read', 'apps:run']);
    const res = await server.api.POST('/me/api-keys', { headers: bearer(key), body: { name: 'x', scopes: ['apps:read'] } });
    expect(res.response.status).toBe(403);
  });

  it('when a key has apps:read, then it can read app info', async () => {
    const m = await member(server);
    const key = await createApiKey(server.db, m.account.id, ['apps:read']);
    const res = await get(`/apps/${m.appId}/info`, bearer(key));
    expect(res.status).toBe(200);
  });
});

describe('AppResolver, WorkspaceMembershipCheck, AppAuthzCheck', () => {
  it('when the caller is not a member of the app workspace, then 404 (existence is not leaked)', async () => {
    const owner = await member(server);
    const stranger = await member(server);
    const res = await get(`/apps/${owner.appId}/info`, stranger.auth);
    expect(res.status).toBe(404);
    const body = await res.json();
    expect(body.error).toBe('not_found');
    expectMatchesSpec('get', '/apps/{app_id}/info', 404, body);
  });

  it('when the app does not exist or the id is not a uuid, then 404 / 400', async () => {
    const m = await member(server);
    expect((await get('/apps/00000000-0000-4000-8000-000000000000/info', m.auth)).status).toBe(404);
    expect((await get('/apps/not-a-uuid/info', m.auth)).status).toBe(404);
  });

  it('when the app has API access disabled, then 403 forbidden', async () => {
    const m = await member(server);
    const appId = await createTestApp(server.db, m.workspaceId, { enableApi: false });
    const res = await get(`/apps/${appId}/info`, m.auth);
    expect(res.status).toBe(403);
    expect((await res.json()).error).toBe('forbidden');
  });

  it('when the app id is sent in upper case and the app changes, then the change is seen at once (one cache key per app)', async () => {
    const m = await member(server);
    const upper = `/apps/${m.appId.toUpperCase()}/info`;
    expect((await get(upper, m.auth)).status).toBe(200);
    // What admin set-access-mode does: change the row, then invalidate the app (by its stored, lower-case id).
    await server.db.query(`UPDATE apps SET access_mode = 'members' WHERE id = $1`, [m.appId]);
    await server.app.services.appCache.invalidate([m.appId]);
    const res = await get(upper, m.auth);
    expect(res.status).toBe(403);
    expect((await res.json()).error).toBe('forbidden');
  });

  it('when the access mode lists members, then only listed members may use it', async () => {
    const owner = await member(server);
    const listed = await createAccount(server.db);
    const unlisted = await createAccount(server.db);
    await addMember(server.db, listed.id, owner.workspaceId);
    await addMember(server.db, unlisted.id, owner.workspaceId);
    const appId = await createTestApp(server.db, owner.workspaceId, { accessMode: 'members', memberIds: [listed.id] });
    expect((await get(`/apps/${appId}/info`, bearer(await mintToken(server, listed)))).status).toBe(200);
    const res = await get(`/apps/${appId}/info`, bearer(await mintToken(server, unlisted)));
    expect(res.status).toBe(403);
    expect((await res.json()).error).toBe('forbidden');
  });
});

describe('every spec operation is guarded', () => {
  const sample = (path: string) => path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');

  it.each(specOperations().map((op) => [op.operationId, op] as const))('%s', async (_id, op) => {
    const res = await fetch(`${server.url}/openapi/v1${sample(op.path)}`, {
      method: op.method.toUpperCase(),
      headers: { 'content-type': 'application/json' },
      body: ['post', 'put', 'patch'].includes(op.method) ? '{}' : undefined,
    });
    if (op.operationId === 'getHealth') {
      expect(op.public).toBe(true);
      expect(res.status).toBe(200);
    } else if (op.enterprise) {
      // This server is the community edition: enterprise-only routes do not exist (test/integration/permitted-apps.test.ts guards them in enterprise).
      expect(res.status).toBe(404);
    } else {
      expect(op.public).toBe(false);
      expect(res.status).toBe(401);
      expect((await res.json()).error).toBe('missing_token');
    }
  });
});

describe('ENABLE_OAUTH_BEARER=false', () => {
  it('when bearer auth is disabled, then every bearer route answers 503 bearer_auth_disabled', async () => {
    const off = await startServer({ config: { enableOauthBearer: false } });
    try {
      const m = await member(off);
      for (const op of specOperations().filter((o) => !o.public && !o.enterprise)) {
        const path = op.path.replace(/\{[^}]+\}/g, m.appId);
        const res = await fetch(`${off.url}/openapi/v1${path}`, { method: op.method.toUpperCase(), headers: m.auth });
        expect(res.status, op.operationId).toBe(503);
        expect((await res.json()).error).toBe('bearer_auth_disabled');
      }
      expect((await fetch(`${off.url}/openapi/v1/_health`)).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});

describe('workspaces and apps', () => {
  it('when listing workspaces, then each membership with its role and the current one', async () => {
    const m = await member(server);
    const second = await createWorkspace(server.db);
    await addMember(server.db, m.account.id, second, 'editor');
    const { data, response } = await server.api.GET('/workspaces', { headers: m.auth });
    expect(response.status).toBe(200);
    expect(data!.data).toHaveLength(2);
    expect(data!.data[0]).toMatchObject({ id: m.workspaceId, role: 'owner', current: true });
    expect(data!.data[1]).toMatchObject({ id: second, role: 'editor', current: false });
    expectMatchesSpec('get', '/workspaces', 200, data);
  });

  it('when listing apps with filters and pages, then the envelope is right', async () => {
    const m = await member(server);
    await createTestApp(server.db, m.workspaceId, { name: 'Alpha writer', mode: 'completion', config: { model: { provider: 'echo', name: 'e' }, prompt: '{{ x }}' }, tags: ['docs'] });
    await createTestApp(server.db, m.workspaceId, { name: 'Beta', tags: ['docs'] });
    await createTestApp(server.db, m.workspaceId, { name: 'Hidden', enableApi: false });
    const other = await member(server);
    const all = await server.api.GET('/apps', { headers: m.auth, params: { query: { limit: 2 } } });
    expect(all.data).toMatchObject({ page: 1, limit: 2, total: 3, has_more: true });
    expect(all.data!.data).toHaveLength(2);
    expectMatchesSpec('get', '/apps', 200, all.data);
    const page2 = await server.api.GET('/apps', { headers: m.auth, params: { query: { limit: 2, page: 2 } } });
    expect(page2.data).toMatchObject({ page: 2, total: 3, has_more: false });
    expect(page2.data!.data).toHaveLength(1);
    const byTag = await server.api.GET('/apps', { headers: m.auth, params: { query: { tag: 'docs' } } });
    expect(byTag.data!.total).toBe(2);
    const byMode = await server.api.GET('/apps', { headers: m.auth, params: { query: { mode: 'completion' } } });
    expect(byMode.data!.data.map((a) => a.name)).toEqual(['Alpha writer']);
    const byName = await server.api.GET('/apps', { headers: m.auth, params: { query: { name: 'bet' } } });
    expect(byName.data!.data.map((a) => a.name)).toEqual(['Beta']);
    const foreign = await server.api.GET('/apps', { headers: m.auth, params: { query: { workspace_id: other.workspaceId } } });
    expect(foreign.data).toMatchObject({ total: 0, data: [], has_more: false });
  });

  it('when limit is out of range, then 400 invalid_request', async () => {
    const m = await member(server);
    const res = await get('/apps?limit=201', m.auth);
    expect(res.status).toBe(400);
    expectMatchesSpec('get', '/apps', 400, await res.json());
  });

  it('when reading app info, then name, mode, tags and input schema', async () => {
    const m = await member(server);
    const appId = await createTestApp(server.db, m.workspaceId, {
      name: 'Summariser',
      mode: 'completion',
      config: {
        model: { provider: 'echo', name: 'e' },
        prompt: 'Summarise {{ topic }}',
        input_schema: [{ variable: 'topic', label: 'Topic', type: 'text', required: true, max_length: 50 }],
      },
    });
    const { data } = await server.api.GET('/apps/{app_id}/info', { headers: m.auth, params: { path: { app_id: appId } } });
    expect(data).toMatchObject({ id: appId, name: 'Summariser', mode: 'completion', input_schema: [{ variable: 'topic', required: true, max_length: 50 }] });
    expectMatchesSpec('get', '/apps/{app_id}/info', 200, data);
  });
});

describe('personal API keys', () => {
  it('when a key is created, then it is shown once, listed without the secret, usable, and deletable', async () => {
    const m = await member(server);
    const created = await server.api.POST('/me/api-keys', { headers: m.auth, body: { name: 'ci', scopes: ['apps:read'], expires_in_days: 30 } });
    expect(created.response.status).toBe(201);
    expectMatchesSpec('post', '/me/api-keys', 201, created.data);
    expect(created.data!.key).toMatch(/^tsk_/);
    const stored = await server.db.one<{ token_hash: string }>('SELECT token_hash FROM api_keys WHERE id = $1', [created.data!.id]);
    expect(stored!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.token_hash).not.toContain(created.data!.key);
    const list = await server.api.GET('/me/api-keys', { headers: m.auth });
    expect(list.data!.data.map((k) => k.id)).toEqual([created.data!.id]);
    expect(JSON.stringify(list.data)).not.toContain(created.data!.key);
    expectMatchesSpec('get', '/me/api-keys', 200, list.data);
    expect((await get(`/apps/${m.appId}/info`, bearer(created.data!.key))).status).toBe(200);
    const del = await server.api.DELETE('/me/api-keys/{key_id}', { headers: m.auth, params: { path: { key_id: created.data!.id } } });
    expect(del.response.status).toBe(204);
    expect((await get('/me', bearer(created.data!.key))).status).toBe(401);
    const again = await server.api.DELETE('/me/api-keys/{key_id}', { headers: m.auth, params: { path: { key_id: created.data!.id } } });
    expect(again.response.status).toBe(404);
  });

  it("when deleting someone else's key, then 404 and the key keeps working", async () => {
    const a = await member(server);
    const b = await member(server);
    const created = await server.api.POST('/me/api-keys', { headers: a.auth, body: { name: 'mine', scopes: ['apps:run'] } });
    const del = await server.api.DELETE('/me/api-keys/{key_id}', { headers: b.auth, params: { path: { key_id: created.data!.id } } });
    expect(del.response.status).toBe(404);
    expect((await get('/me', bearer(created.data!.key))).status).toBe(200);
  });
});
