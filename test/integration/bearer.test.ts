import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/auth/token-kinds.ts';
import { RedisStore } from '../../src/storage/store/index.ts';
import { countingStore } from '../helpers/counting-store.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { createAccount, createApiKey, member, mintToken } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

let server: TestServer;
let store: Awaited<ReturnType<typeof RedisStore.connect>>;
let counting: ReturnType<typeof countingStore>;

beforeAll(async () => {
  store = await RedisStore.connect(TEST_REDIS_URL);
  counting = countingStore(store);
  server = await startServer({ store: counting });
});
afterAll(async () => {
  await server.close();
  await store.close();
});

const me = (headers: Record<string, string> = {}) => fetch(`${server.url}/openapi/v1/me`, { headers });
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe('BearerCheck: 401 challenges (RFC 6750 §3)', () => {
  it('when no token is sent, then 401 missing_token with a bare realm challenge', async () => {
    const res = await me();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tessera"');
    const body = await res.json();
    expect(body).toMatchObject({ error: 'missing_token' });
    expectMatchesSpec('get', '/me', 401, body);
  });

  it('when another scheme is sent, then 401 missing_token', async () => {
    const res = await me({ Authorization: 'Basic dXNlcjpwYXNz' });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('missing_token');
  });

  it.each([
    ['a malformed token', 'not-a-token'],
    ['a wrong checksum', generateToken('tsa_').slice(0, -1) + 'x'],
    ['an unknown prefix', 'tsz_' + generateToken('tsa_').slice(4)],
    ['a Dify-style app- key', 'app-' + 'a'.repeat(24)],
    ['an empty bearer', ''],
  ])('when %s is sent, then 401 invalid_token without touching Postgres or the store', async (_what, token) => {
    const queries = server.db.queries;
    counting.reset();
    const res = await me(bearer(token));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tessera", error="invalid_token"');
    expect((await res.json()).error).toBe('invalid_token');
    expect(server.db.queries - queries).toBe(0);
    expect(counting.calls).toBe(0);
  });

  it('when a well-formed token is unknown, then 401 invalid_token with rate-limit headers', async () => {
    const res = await me(bearer(generateToken('tsa_')));
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('invalid_token');
    expect(res.headers.get('ratelimit-limit')).toBe('60');
  });
});

describe('GET /me', () => {
  it('when the token is valid, then the principal, with RateLimit headers, matching the spec', async () => {
    const m = await member(server);
    const res = await me(m.auth);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      sub: m.account.id,
      principal_type: 'user',
      email: m.account.email,
      prefix: 'tsa_',
      scopes: ['full'],
      subject_issuer: 'tessera:account',
      default_workspace_id: m.workspaceId,
    });
    expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now());
    expectMatchesSpec('get', '/me', 200, body);
    expect(res.headers.get('ratelimit-limit')).toBe('60');
    expect(res.headers.get('ratelimit-remaining')).toBe('59');
    expect(Number(res.headers.get('ratelimit-reset'))).toBeGreaterThanOrEqual(1);
  });

  it('when an API key calls, then its stored scopes are in the principal', async () => {
    const account = await createAccount(server.db);
    const key = await createApiKey(server.db, account.id, ['apps:run']);
    const body = await (await me(bearer(key))).json();
    expect(body).toMatchObject({ sub: account.id, prefix: 'tsk_', scopes: ['apps:run'], expires_at: null });
  });

  it('when the identity is warm, then a request makes no Postgres query and exactly one store round trip', async () => {
    const m = await member(server);
    await me(m.auth); // cold: resolves and caches
    const queries = server.db.queries;
    counting.reset();
    const res = await me(m.auth);
    expect(res.status).toBe(200);
    expect(server.db.queries - queries).toBe(0);
    expect(counting.calls).toBe(1);
  });

  it('when the app info route is warm, then it also makes no Postgres query and one store round trip', async () => {
    const m = await member(server);
    const info = () => fetch(`${server.url}/openapi/v1/apps/${m.appId}/info`, { headers: m.auth });
    expect((await info()).status).toBe(200);
    const queries = server.db.queries;
    counting.reset();
    expect((await info()).status).toBe(200);
    expect(server.db.queries - queries).toBe(0);
    expect(counting.calls).toBe(1);
  });
});

describe('hard expiry and last use', () => {
  it('when a token has expired (its session too), then 401 token_expired once, and the row is revoked with its hash cleared', async () => {
    const m = await member(server);
    await me(m.auth);
    const [row] = await server.db.query<{ id: string }>(
      `UPDATE oauth_access_tokens SET expires_at = now() - interval '1 second', refresh_expires_at = now() - interval '1 second'
        WHERE account_id = $1 RETURNING id`,
      [m.account.id],
    );
    server.app.services.authenticator.cache.clear();
    const first = await me(m.auth);
    expect(first.status).toBe(401);
    expect(await first.json()).toMatchObject({ error: 'token_expired' });
    expect(first.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const after = await server.db.one<{ revoked_at: Date | null; token_hash: string | null }>(
      'SELECT revoked_at, token_hash FROM oauth_access_tokens WHERE id = $1',
      [row!.id],
    );
    expect(after!.revoked_at).not.toBeNull();
    expect(after!.token_hash).toBeNull();
    expect((await (await me(m.auth)).json()).error).toBe('invalid_token');
  });

  it('when a token is used, then last_used_at is written off the request path', async () => {
    const m = await member(server);
    await me(m.auth);
    await server.app.services.authenticator.flushLastUsed();
    const row = await server.db.one<{ last_used_at: Date | null }>('SELECT last_used_at FROM oauth_access_tokens WHERE account_id = $1', [
      m.account.id,
    ]);
    expect(row!.last_used_at).toBeInstanceOf(Date);
  });
});

describe('two replicas sharing one Redis', () => {
  let other: TestServer;
  beforeAll(async () => {
    other = await startServer();
  });
  afterAll(() => other.close());

  async function eventually401(url: string, headers: Record<string, string>): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < 1_000) {
      const res = await fetch(`${url}/openapi/v1/me`, { headers });
      if (res.status === 401) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('token still accepted after 1 s');
  }

  it('when a token is revoked on one instance, then the other (with it cached) refuses it within one second', async () => {
    const m = await member(server);
    expect((await fetch(`${other.url}/openapi/v1/me`, { headers: m.auth })).status).toBe(200);
    const [row] = await server.db.query<{ id: string }>('SELECT id FROM oauth_access_tokens WHERE account_id = $1', [m.account.id]);
    expect(await server.app.services.tokens.revokeById({ accountId: m.account.id }, row!.id)).toBe(true);
    expect(await eventually401(other.url, m.auth)).toBeLessThan(1_000);
  });

  it('when the same device logs in again, then the old token stops working on every instance', async () => {
    const account = await createAccount(server.db);
    const oldToken = await mintToken(server, account, 'laptop');
    expect((await fetch(`${other.url}/openapi/v1/me`, { headers: bearer(oldToken) })).status).toBe(200);
    const newToken = await mintToken(server, account, 'laptop');
    await eventually401(other.url, bearer(oldToken));
    expect((await fetch(`${other.url}/openapi/v1/me`, { headers: bearer(newToken) })).status).toBe(200);
    const rows = await server.db.query('SELECT id FROM oauth_access_tokens WHERE account_id = $1', [account.id]);
    expect(rows).toHaveLength(1); // rotated in place
  });

  it('when an API key is deleted, then it fails on the other instance', async () => {
    const m = await member(server);
    const created = await server.api.POST('/me/api-keys', { headers: m.auth, body: { name: 'ci', scopes: ['apps:read'] } });
    const key = created.data!.key;
    expect((await fetch(`${other.url}/openapi/v1/me`, { headers: bearer(key) })).status).toBe(200);
    const del = await server.api.DELETE('/me/api-keys/{key_id}', { headers: m.auth, params: { path: { key_id: created.data!.id } } });
    expect(del.response.status).toBe(204);
    await eventually401(other.url, bearer(key));
  });
});
