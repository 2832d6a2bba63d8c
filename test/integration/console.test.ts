import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleSessions, endConsoleSessions } from '../../src/console/session.ts';
import { ConsoleSessionRepo } from '../../src/storage/repos/console-sessions.ts';
import { Database } from '../../src/storage/db.ts';
import { countingStore } from '../helpers/counting-store.ts';
import { TEST_DATABASE_URL } from '../helpers/env.ts';
import { createAccount, createWorkspace, uniq, type TestAccount } from '../helpers/fixtures.ts';
import { consoleSignin, signinRequest } from '../helpers/console.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let account: TestAccount;
let workspaceId: string;
beforeAll(async () => {
  server = await startServer();
  account = await createAccount(server.db);
  workspaceId = await createWorkspace(server.db, account.id);
});
afterAll(() => server.close());

const session = (cookie?: string) => fetch(`${server.url}/console/api/session`, { headers: cookie ? { cookie } : {} });
const ip = () => ({ 'x-forwarded-for': `10.1.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}` });

describe('console sign-in', () => {
  it('when the password is right, then a JWS session cookie (HttpOnly, SameSite=Lax, not Secure on http) and a CSRF token', async () => {
    const res = await signinRequest(server, account.email, account.password, ip());
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.json();
    expect(body.account).toEqual({ id: account.id, email: account.email, name: 'Test User' });
    expect(body.csrf_token).toMatch(/^[\w-]{43}$/);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^tessera_session=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=43200; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(cookie).not.toContain(account.password);
  });

  it('when the public URL is https, then the cookie is also Secure', async () => {
    const https = await startServer({ config: { publicUrl: 'https://tessera.example' } });
    try {
      const login = await consoleSignin(https, account, ip());
      expect(login.setCookie).toMatch(/; Secure/);
    } finally {
      await https.close();
    }
  });

  it('when the password is wrong or the email unknown, then the same 401 and no cookie', async () => {
    const wrong = await signinRequest(server, account.email, 'nope', ip());
    const unknown = await signinRequest(server, `nobody-${uniq()}@example.test`, 'nope', ip());
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(await res.json()).toMatchObject({ error: 'invalid_credentials', message: 'The email or password is wrong.' });
    }
  });

  it('when an IP tries one email 10 times, then the 11th attempt gets 429, while another email from that IP still may try', async () => {
    const from = ip();
    for (let i = 0; i < 10; i++) expect((await signinRequest(server, account.email, `bad-${i}`, from)).status).toBe(401);
    const limited = await signinRequest(server, account.email, account.password, from);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({ error: 'rate_limited', retry_after_ms: expect.any(Number) });
    const other = await createAccount(server.db);
    expect((await signinRequest(server, other.email, other.password, from)).status).toBe(200);
    expect((await signinRequest(server, account.email, account.password, ip())).status).toBe(200);
  });

  it('when one IP has tried as many different emails as CONSOLE_SIGNIN_ATTEMPTS_PER_IP allows, then the next attempt gets 429, whatever the email', async () => {
    // The default is 50 (config.test.ts); a small limit keeps the test from hashing 50 passwords.
    const small = await startServer({ config: { consoleSignin: { attempts: 10, attemptsPerIp: 4 } } });
    try {
      const from = ip();
      for (let i = 0; i < 4; i++) expect((await signinRequest(small, `spray-${i}-${uniq()}@example.test`, 'guess', from)).status).toBe(401);
      const limited = await signinRequest(small, account.email, account.password, from);
      expect(limited.status).toBe(429);
      expect((await limited.json()).error).toBe('rate_limited');
    } finally {
      await small.close();
    }
  });

  it('when the body is not JSON or lacks fields, then 415 or 400 in the error shape', async () => {
    const formBody = await fetch(`${server.url}/console/api/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `email=${account.email}&password=x`,
    });
    expect(formBody.status).toBe(415);
    expect(await formBody.json()).toMatchObject({ error: 'unsupported_media_type', request_id: expect.any(String) });
    const missing = await fetch(`${server.url}/console/api/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"a@b.c"}' });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toBe('invalid_request');
    const broken = await fetch(`${server.url}/console/api/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":' });
    expect(broken.status).toBe(400);
  });
});

describe('console session', () => {
  it('when signed in, then the session names the account, its workspaces and the same CSRF token', async () => {
    const login = await consoleSignin(server, account, ip());
    const res = await session(login.cookie);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      account: { id: account.id, email: account.email, name: 'Test User' },
      workspaces: [expect.objectContaining({ id: workspaceId, role: 'owner', current: true })],
      csrf_token: login.csrf,
    });
  });

  it('when there is no cookie, or it was tampered with, then 401', async () => {
    expect((await session()).status).toBe(401);
    const login = await consoleSignin(server, account, ip());
    const [h, p, sig] = login.cookie.split('=')[1]!.split('.');
    const forged = `tessera_session=${h}.${p}.${sig!.slice(0, -2)}AA`;
    const res = await session(forged);
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('unauthenticated');
  });

  it('when signing out without the CSRF token, then 403 and the session lives on', async () => {
    const login = await consoleSignin(server, account, ip());
    const res = await fetch(`${server.url}/console/api/signout`, { method: 'POST', headers: { cookie: login.cookie, 'x-csrf-token': 'wrong' } });
    expect(res.status).toBe(403);
    expect((await session(login.cookie)).status).toBe(200);
  });

  it('when signed out, then the cookie is cleared and a copy of the old cookie no longer works', async () => {
    const login = await consoleSignin(server, account, ip());
    const res = await fetch(`${server.url}/console/api/signout`, { method: 'POST', headers: { cookie: login.cookie, 'x-csrf-token': login.csrf } });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/^tessera_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Lax/);
    expect((await session(login.cookie)).status).toBe(401);
  });

  it('when the store forgets the session (it restarted empty), then Postgres still knows: a signed-out cookie stays dead and a live one lives', async () => {
    const live = await consoleSignin(server, account, ip());
    const gone = await consoleSignin(server, account, ip());
    expect((await fetch(`${server.url}/console/api/signout`, { method: 'POST', headers: { cookie: gone.cookie, 'x-csrf-token': gone.csrf } })).status).toBe(204);
    const cacheKey = (login: { cookie: string }) => {
      const payload = JSON.parse(Buffer.from(login.cookie.split('=')[1]!.split('.')[1]!, 'base64url').toString()) as { sid: string };
      return `console:session:{${createHash('sha256').update(payload.sid).digest('hex')}}`;
    };
    expect(await server.store.del(cacheKey(live), cacheKey(gone))).toBe(2);
    expect((await session(gone.cookie)).status).toBe(401);
    expect((await session(live.cookie)).status).toBe(200);
    // Only a hash of the session id is stored.
    const rows = await server.db.query<{ id: string; revoked: boolean }>('SELECT id, revoked_at IS NOT NULL AS revoked FROM console_sessions WHERE account_id = $1', [account.id]);
    expect(rows.find((r) => cacheKey({ cookie: gone.cookie }).includes(r.id))!.revoked).toBe(true);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.id))).toBe(true);
  });

  it('when the store is in-process and another process ends the account’s sessions (admin reset-password), then the server refuses the cookie at once', async () => {
    const solo = await startServer({ store: 'memory' });
    try {
      const mine = await createAccount(solo.db);
      const login = await consoleSignin(solo, mine, ip());
      const at = () => fetch(`${solo.url}/console/api/session`, { headers: { cookie: login.cookie } });
      expect((await at()).status).toBe(200);
      expect((await at()).status).toBe(200);
      // What the admin command does without REDIS_URL: Postgres only, no store of the server's to write to.
      expect(await endConsoleSessions(new ConsoleSessionRepo(solo.db), null, solo.app.services.log, mine.id)).toBe(1);
      expect((await at()).status).toBe(401);
    } finally {
      await solo.close();
    }
  });

  it('when a session is read warm, then it costs one store round trip and no Postgres query; cold, one query, and the verdict is cached', async () => {
    // Its own store wrapper and pool, so only this reader's round trips and queries are counted.
    const store = countingStore(server.store);
    const db = new Database(TEST_DATABASE_URL);
    const sessions = new ConsoleSessions(server.config, store, new ConsoleSessionRepo(db), server.app.services.log);
    const login = await consoleSignin(server, account, ip());
    const req = { get: (h: string) => (h.toLowerCase() === 'cookie' ? login.cookie : undefined) } as unknown as Request;
    const measure = async () => {
      store.reset();
      const queries = db.queries;
      const s = await sessions.read(req);
      return { live: s !== null, storeCalls: store.calls, queries: db.queries - queries };
    };
    expect(await measure()).toEqual({ live: true, storeCalls: 1, queries: 0 });
    const payload = JSON.parse(Buffer.from(login.cookie.split('=')[1]!.split('.')[1]!, 'base64url').toString()) as { sid: string };
    await server.store.del(`console:session:{${createHash('sha256').update(payload.sid).digest('hex')}}`);
    expect(await measure()).toEqual({ live: true, storeCalls: 2, queries: 1 });
    expect(await measure()).toEqual({ live: true, storeCalls: 1, queries: 0 });
    await db.close();
  });
});
