import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceFlowFor } from '../../src/device-flow/device-flow-service.ts';
import { recordKey } from '../../src/device-flow/device-scripts.ts';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { createAccount, type TestAccount } from '../helpers/fixtures.ts';
import { backdateCollection, form, GRANT, poll, startFlow } from '../helpers/device.ts';
import { expectOAuthError } from '../helpers/oauth.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { createHash } from 'node:crypto';
import { DatabaseUnavailableError } from '../../src/storage/db.ts';

let server: TestServer;
let account: TestAccount;
beforeAll(async () => {
  server = await startServer({ config: { knownClientIds: ['tessera-cli', 'other-cli'] } });
  account = await createAccount(server.db);
});
afterAll(() => server.close());

const approve = (userCode: string, who = account) => deviceFlowFor(server.app.services).approve(userCode, { id: who.id, email: who.email });
const me = (token: string) => fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` } });


describe('RFC 8414 metadata', () => {
  it('when fetched, then it names the issuer and the endpoints', async () => {
    const res = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      issuer: server.url,
      device_authorization_endpoint: `${server.url}/openapi/v1/oauth/device/code`,
      token_endpoint: `${server.url}/openapi/v1/oauth/token`,
      revocation_endpoint: `${server.url}/openapi/v1/oauth/revoke`,
      grant_types_supported: [GRANT, 'refresh_token'],
      token_endpoint_auth_methods_supported: ['none'],
      response_types_supported: [],
      scopes_supported: expect.arrayContaining(['full', 'apps:read', 'apps:run']),
    });
  });
});

describe('device authorization request (RFC 8628 §3.1–3.2)', () => {
  it('when a known client asks, then it gets a device code, a formatted user code and timings', async () => {
    const res = await form(`${server.url}/openapi/v1/oauth/device/code`, { client_id: 'tessera-cli', device_label: 'laptop' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const body = await res.json();
    expect(body.device_code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(body.verification_uri).toBe(`${server.url}/device`);
    expect(body.verification_uri_complete).toBe(`${server.url}/device?user_code=${body.user_code}`);
    expect(body.expires_in).toBe(900);
    expect(body.interval).toBe(5);
    // Only the hash of the device code is a key in the store.
    const hash = createHash('sha256').update(body.device_code).digest('hex');
    expect(await server.store.get(recordKey(hash))).toContain('"status":"pending"');
    expect(await server.store.get(recordKey(body.device_code))).toBeNull();
  });

  it('when JSON is sent, then it is accepted too', async () => {
    const res = await fetch(`${server.url}/openapi/v1/oauth/device/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'tessera-cli' }),
    });
    expect(res.status).toBe(200);
  });

  it('when the client is unknown, then 401 invalid_client', async () => {
    await expectOAuthError(await form(`${server.url}/openapi/v1/oauth/device/code`, { client_id: 'evil' }), 401, 'invalid_client');
  });

  it('when client_id is missing, a parameter repeats, the body is not a form, or the scope is unknown, then 400', async () => {
    const url = `${server.url}/openapi/v1/oauth/device/code`;
    await expectOAuthError(await form(url, {}), 400, 'invalid_request');
    const dup = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=tessera-cli&client_id=tessera-cli' });
    await expectOAuthError(dup, 400, 'invalid_request');
    const text = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'client_id=tessera-cli' });
    await expectOAuthError(text, 400, 'invalid_request');
    await expectOAuthError(await form(url, { client_id: 'tessera-cli', scope: 'admin' }), 400, 'invalid_scope');
  });
});

describe('device access token request (RFC 8628 §3.4–3.5)', () => {
  it('when polled before approval, then authorization_pending with no-store and no WWW-Authenticate', async () => {
    const flow = await startFlow(server);
    await expectOAuthError(await poll(server, flow.device_code), 400, 'authorization_pending');
  });

  it('when polled faster than the interval, then slow_down and the interval grows by 5 s; the first poll is never throttled', async () => {
    const flow = await startFlow(server);
    await expectOAuthError(await poll(server, flow.device_code), 400, 'authorization_pending');
    const res = await poll(server, flow.device_code);
    await expectOAuthError(res, 400, 'slow_down');
    const hash = createHash('sha256').update(flow.device_code).digest('hex');
    expect(JSON.parse((await server.store.get(recordKey(hash)))!).interval).toBe(10);
  });

  it('when approved, then an early poll still collects the token, which works, and the code cannot be used again', async () => {
    const flow = await startFlow(server);
    await poll(server, flow.device_code);
    expect(await approve(flow.user_code.toLowerCase())).toBe('ok');
    const res = await poll(server, flow.device_code);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.json();
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'full' });
    expect(body.access_token).toMatch(/^tsa_/);
    // An hour's access token and a refresh token (OAUTH_REFRESH_TOKENS, the default; docs/tokens.md).
    expect(body.expires_in).toBeGreaterThan(3590);
    expect(body.expires_in).toBeLessThanOrEqual(3600);
    expect(body.refresh_token).toMatch(/^tsr_/);
    expect(body.refresh_token_expires_in).toBeGreaterThan(29 * 86400);
    const principal = await (await me(body.access_token)).json();
    expect(principal).toMatchObject({ sub: account.id, email: account.email });
    const row = await server.db.one<{ token_hash: string; device_label: string }>('SELECT token_hash, device_label FROM oauth_access_tokens WHERE token_hash = $1', [
      hashToken(body.access_token),
    ]);
    expect(row!.device_label).toBe('laptop');
  });

  it('when a collected code is polled again within the grace window (a retried poll), then invalid_grant, and the token keeps working', async () => {
    const other = await createAccount(server.db);
    const flow = await startFlow(server, { device_label: 'retried' });
    await approve(flow.user_code, other);
    const { access_token } = await (await poll(server, flow.device_code)).json();
    await expectOAuthError(await poll(server, flow.device_code), 400, 'invalid_grant');
    await expectOAuthError(await poll(server, flow.device_code), 400, 'invalid_grant');
    expect((await me(access_token)).status).toBe(200);
  });

  it('when an approved code is replayed after the grace window, then invalid_grant, and the token it produced is revoked', async () => {
    const other = await createAccount(server.db);
    const flow = await startFlow(server, { device_label: 'replay' });
    await approve(flow.user_code, other);
    const { access_token } = await (await poll(server, flow.device_code)).json();
    expect((await me(access_token)).status).toBe(200);
    await backdateCollection(server, flow.device_code);
    await expectOAuthError(await poll(server, flow.device_code), 400, 'invalid_grant');
    expect((await me(access_token)).status).toBe(401);
  });

  it('when the code is unknown or belongs to another client, then invalid_grant', async () => {
    await expectOAuthError(await poll(server, 'x'.repeat(43)), 400, 'invalid_grant');
    const flow = await startFlow(server);
    await expectOAuthError(await poll(server, flow.device_code, 'other-cli'), 400, 'invalid_grant');
  });

  it('when denied, then access_denied, and the code is dead (it cannot be approved later)', async () => {
    const flow = await startFlow(server);
    expect(await deviceFlowFor(server.app.services).deny(flow.user_code, { id: account.id, email: account.email })).toBe('ok');
    await expectOAuthError(await poll(server, flow.device_code), 400, 'access_denied');
    expect(await approve(flow.user_code)).toBe('conflict');
    expect((await deviceFlowFor(server.app.services).lookup(flow.user_code)).valid).toBe(false);
  });

  it('when the code has expired, then expired_token', async () => {
    const flow = await startFlow(server);
    const hash = createHash('sha256').update(flow.device_code).digest('hex');
    const rec = JSON.parse((await server.store.get(recordKey(hash)))!);
    await server.store.set(recordKey(hash), JSON.stringify({ ...rec, expires_at_ms: Date.now() - 1 }), 60_000);
    await expectOAuthError(await poll(server, flow.device_code), 400, 'expired_token');
    expect(await approve(flow.user_code)).toBe('not_found');
  });

  it('when the grant type is wrong or parameters are missing, then the RFC errors', async () => {
    const url = `${server.url}/openapi/v1/oauth/token`;
    await expectOAuthError(await form(url, { grant_type: 'password', client_id: 'tessera-cli' }), 400, 'unsupported_grant_type');
    await expectOAuthError(await form(url, { client_id: 'tessera-cli' }), 400, 'invalid_request');
    await expectOAuthError(await form(url, { grant_type: GRANT, client_id: 'tessera-cli' }), 400, 'invalid_request');
    await expectOAuthError(await form(url, { grant_type: GRANT, device_code: 'x', client_id: 'nope' }), 401, 'invalid_client');
  });

  it('when the same device logs in again, then the new token replaces the old one (rotation per device)', async () => {
    const who = await createAccount(server.db);
    const tokens: string[] = [];
    for (let i = 0; i < 2; i++) {
      const flow = await startFlow(server, { device_label: 'desk' });
      await approve(flow.user_code, who);
      tokens.push((await (await poll(server, flow.device_code)).json()).access_token);
    }
    expect((await me(tokens[0]!)).status).toBe(401);
    expect((await me(tokens[1]!)).status).toBe(200);
    const rows = await server.db.query('SELECT id FROM oauth_access_tokens WHERE account_id = $1 AND revoked_at IS NULL', [who.id]);
    expect(rows).toHaveLength(1);
  });
});

describe('concurrent polls on two replicas', () => {
  it('when many pollers race on an approved code, then exactly one gets a token', async () => {
    const other = await startServer();
    try {
      const who = await createAccount(server.db);
      const flow = await startFlow(server, { device_label: 'race' });
      await approve(flow.user_code, who);
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => poll(i % 2 ? other : server, flow.device_code)));
      const ok = results.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      const errors = await Promise.all(results.filter((r) => r.status !== 200).map(async (r) => (await r.json()).error));
      expect(errors.every((e) => ['authorization_pending', 'invalid_grant'].includes(e))).toBe(true);
      const rows = await server.db.query('SELECT id FROM oauth_access_tokens WHERE account_id = $1', [who.id]);
      expect(rows).toHaveLength(1);
      // Polls that lost the race are not replays: the winner's token still works.
      expect((await me((await ok[0]!.json()).access_token)).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('minting failure', () => {
  it('when minting fails after approval, then the approval survives and the next poll gets the token', async () => {
    const who = await createAccount(server.db);
    const flow = await startFlow(server, { device_label: 'retry' });
    await approve(flow.user_code, who);
    const tokens = server.app.services.tokens;
    const original = tokens.mintAccountToken.bind(tokens);
    tokens.mintAccountToken = async () => {
      throw new Error('database hiccup');
    };
    try {
      const failed = await poll(server, flow.device_code);
      expect(failed.status).toBe(500);
      expect((await failed.json()).error).toBe('server_error');
    } finally {
      tokens.mintAccountToken = original;
    }
    const res = await poll(server, flow.device_code);
    expect(res.status).toBe(200);
  });
});

describe('durable decisions', () => {
  it('when the decision cannot be written to Postgres, then approving fails, the code is still pending, and approving again works', async () => {
    const who = await createAccount(server.db);
    const flow = await startFlow(server, { device_label: 'durable' });
    const db = server.app.services.db;
    const original = db.query.bind(db);
    db.query = (async (text: string, values?: unknown[]) => {
      if (text.includes('INSERT INTO device_grants')) throw new DatabaseUnavailableError(new Error('connection refused'));
      return original(text, values);
    }) as typeof db.query;
    try {
      await expect(approve(flow.user_code, who)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    } finally {
      db.query = original;
    }
    expect(await deviceFlowFor(server.app.services).lookup(flow.user_code)).toMatchObject({ valid: true });
    await expectOAuthError(await poll(server, flow.device_code), 400, 'authorization_pending');
    expect(await approve(flow.user_code, who)).toBe('ok');
    const [grant] = await server.db.query<{ status: string; account_id: string }>('SELECT status, account_id FROM device_grants WHERE code_hash = $1', [
      createHash('sha256').update(flow.device_code).digest('hex'),
    ]);
    expect(grant).toEqual({ status: 'approved', account_id: who.id });
    expect((await poll(server, flow.device_code)).status).toBe(200);
  });
});

describe('revocation (RFC 7009)', () => {
  it('when a known token is revoked, then 200 and it stops working; unknown tokens also get 200; a missing token is 400', async () => {
    const flow = await startFlow(server, { device_label: 'revoke' });
    await approve(flow.user_code);
    const { access_token } = await (await poll(server, flow.device_code)).json();
    const url = `${server.url}/openapi/v1/oauth/revoke`;
    const res = await form(url, { token: access_token, token_type_hint: 'access_token' });
    expect(res.status).toBe(200);
    expect((await me(access_token)).status).toBe(401);
    expect((await form(url, { token: 'tsa_unknown' })).status).toBe(200);
    await expectOAuthError(await form(url, {}), 400, 'invalid_request');
  });
});

describe('lookup', () => {
  it('when a live code is looked up, then client, device label and the real remaining time', async () => {
    const flow = await startFlow(server, { device_label: 'my laptop' });
    const res = await fetch(`${server.url}/openapi/v1/oauth/device/lookup?user_code=${flow.user_code.replace('-', '').toLowerCase()}`);
    const body = await res.json();
    expect(body).toMatchObject({ valid: true, client_id: 'tessera-cli', device_label: 'my laptop', user_code: flow.user_code });
    expect(body.expires_in_remaining).toBeGreaterThan(890);
    expect(body.expires_in_remaining).toBeLessThanOrEqual(900);
    expect(await (await fetch(`${server.url}/openapi/v1/oauth/device/lookup?user_code=BBBB-BBBB`)).json()).toEqual({ valid: false });
  });

  it('when one IP guesses codes, then it gets 429 after 60 lookups, and another IP does not', async () => {
    const url = `${server.url}/openapi/v1/oauth/device/lookup?user_code=BCDF-GHJK`;
    const ip = { 'x-forwarded-for': `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}` };
    for (let i = 0; i < 60; i++) expect((await fetch(url, { headers: ip })).status).toBe(200);
    const limited = await fetch(url, { headers: ip });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await fetch(url, { headers: { 'x-forwarded-for': '10.8.7.6' } })).status).toBe(200);
  });

  it('when one IP asks for too many device codes, then 429', async () => {
    const ip = { 'x-forwarded-for': `10.7.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}` };
    for (let i = 0; i < 60; i++) await startFlow(server, {}, ip);
    const res = await form(`${server.url}/openapi/v1/oauth/device/code`, { client_id: 'tessera-cli' }, ip);
    expect(res.status).toBe(429);
  });
});
