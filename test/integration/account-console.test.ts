import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleSignin, type ConsoleLogin } from '../helpers/console.ts';
import { createAccount, mintToken, uniq, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// Two replicas sharing one Redis: the account page talks to one, the revoked tokens are cached on the other.
let server: TestServer;
let other: TestServer;
beforeAll(async () => {
  server = await startServer();
  other = await startServer();
});
afterAll(async () => {
  await other?.close();
  await server?.close();
});

interface Signed {
  account: TestAccount;
  login: ConsoleLogin;
}
async function signedIn(): Promise<Signed> {
  const account = await createAccount(server.db);
  return { account, login: await consoleSignin(server, account) };
}

function call(who: Signed | null, method: string, path: string, opts: { body?: unknown; csrf?: string | null; type?: string } = {}) {
  const headers: Record<string, string> = {};
  if (who) headers.cookie = who.login.cookie;
  const csrf = opts.csrf === undefined ? who?.login.csrf : opts.csrf;
  if (csrf) headers['x-csrf-token'] = csrf;
  if (opts.body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  return fetch(`${server.url}/console/api${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
  });
}

const me = (url: string, token: string) => fetch(`${url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` } });

/** Polls the other replica until it refuses the token: a revocation reaches every replica within one second (docs/console.md). */
async function refusedWithinOneSecond(token: string): Promise<void> {
  await within1s(() => me(other.url, token), 'token still accepted on the other replica after 1 s');
}

const sessionAt = (url: string, login: ConsoleLogin) => fetch(`${url}/console/api/session`, { headers: { cookie: login.cookie } });

/** The same for a console session cookie, on /console/api/session of the other replica. */
async function sessionEndedWithinOneSecond(login: ConsoleLogin): Promise<void> {
  await within1s(() => sessionAt(other.url, login), 'console session still live on the other replica after 1 s');
}

async function within1s(request: () => Promise<Response>, failure: string): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < 1_000) {
    if ((await request()).status === 401) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(failure);
}

function expectErrorShape(body: Record<string, unknown>, code: string) {
  expect(body).toMatchObject({ error: code, message: expect.any(String), request_id: expect.any(String) });
}

describe('the account page API: devices', () => {
  it('when signed in, then the devices logged in are listed with client, label and times, newest first, and no one else’s', async () => {
    const a = await signedIn();
    await mintToken(server, a.account, 'old laptop');
    await mintToken(server, a.account, 'new laptop');
    await mintToken(server, await createAccount(server.db), 'someone else');
    const res = await call(a, 'GET', '/devices');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.json();
    expect(body).toMatchObject({ page: 1, limit: 50, total: 2, has_more: false });
    expect(body.data.map((d: { device_label: string }) => d.device_label)).toEqual(['new laptop', 'old laptop']);
    expect(body.data[0]).toEqual({
      id: expect.any(String),
      client_id: 'tessera-cli',
      device_label: 'new laptop',
      created_at: expect.any(String),
      last_used_at: null,
      last_refreshed_at: null,
      expires_at: expect.any(String),
    });
  });

  it('when one device is signed out, then its token is refused on every replica within a second and the other device keeps working', async () => {
    const a = await signedIn();
    const lost = await mintToken(server, a.account, 'lost laptop');
    const kept = await mintToken(server, a.account, 'desk');
    expect((await me(other.url, lost)).status).toBe(200); // cached on the other replica
    const { data } = await (await call(a, 'GET', '/devices')).json();
    const target = data.find((d: { device_label: string }) => d.device_label === 'lost laptop');
    expect((await call(a, 'DELETE', `/devices/${target.id}`)).status).toBe(204);
    await refusedWithinOneSecond(lost);
    expect((await me(other.url, kept)).status).toBe(200);
    expect((await call(a, 'DELETE', `/devices/${target.id}`)).status).toBe(404);
  });

  it('when signing out everywhere, then every device token is refused on every replica, while API keys keep working', async () => {
    const a = await signedIn();
    const tokens = [await mintToken(server, a.account, 'one'), await mintToken(server, a.account, 'two')];
    for (const t of tokens) expect((await me(other.url, t)).status).toBe(200);
    const key = await (await call(a, 'POST', '/api-keys', { body: { name: 'ci', scopes: ['apps:read'] } })).json();
    const res = await call(a, 'DELETE', '/devices');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ revoked: 2, browsers_signed_out: 0 });
    for (const t of tokens) await refusedWithinOneSecond(t);
    expect((await me(other.url, key.key)).status).toBe(200);
    expect((await (await call(a, 'GET', '/devices')).json()).total).toBe(0);
  });

  it('when signing out everywhere from one browser, then the account’s other browsers get 401 on every replica within a second, while this browser and other accounts stay signed in', async () => {
    const a = await signedIn();
    const stolen = { account: a.account, login: await consoleSignin(server, a.account) };
    const elsewhere = await consoleSignin(other, a.account);
    const bystander = await signedIn();
    // Both replicas have seen (and cached) every session live.
    for (const login of [stolen.login, elsewhere, bystander.login]) {
      for (const url of [server.url, other.url]) expect((await sessionAt(url, login)).status).toBe(200);
    }
    const res = await call(a, 'DELETE', '/devices');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ revoked: 0, browsers_signed_out: 2 });
    await sessionEndedWithinOneSecond(stolen.login);
    await sessionEndedWithinOneSecond(elsewhere);
    expect((await sessionAt(server.url, stolen.login)).status).toBe(401);
    // The ended cookie can no longer create a key or approve anything.
    expect((await call(stolen, 'POST', '/api-keys', { body: { name: 'backdoor', scopes: ['apps:read'] } })).status).toBe(401);
    for (const url of [server.url, other.url]) {
      expect((await sessionAt(url, a.login)).status).toBe(200);
      expect((await sessionAt(url, bystander.login)).status).toBe(200);
    }
    const rows = await server.db.query<{ live: number }>('SELECT count(*)::int AS live FROM console_sessions WHERE account_id = $1 AND revoked_at IS NULL', [a.account.id]);
    expect(rows[0]!.live).toBe(1);
  });

  it('when the device id is another account’s, unknown or not an id, then 404 and nothing changes', async () => {
    const a = await signedIn();
    const b = await createAccount(server.db);
    const theirs = await mintToken(server, b, 'theirs');
    const [row] = await server.db.query<{ id: string }>('SELECT id FROM oauth_access_tokens WHERE account_id = $1', [b.id]);
    for (const id of [row!.id, '00000000-0000-4000-8000-000000000000', 'not-an-id', "1' OR '1'='1"]) {
      const res = await call(a, 'DELETE', `/devices/${encodeURIComponent(id)}`);
      expect(res.status).toBe(404);
      expectErrorShape(await res.json(), 'not_found');
    }
    expect((await me(server.url, theirs)).status).toBe(200);
  });
});

describe('the account page API: personal API keys', () => {
  it('when a key is created, then it is returned once with its scopes and expiry, works on the API, is listed without the key, and stops everywhere when revoked', async () => {
    const a = await signedIn();
    const created = await call(a, 'POST', '/api-keys', { body: { name: 'deploy bot', scopes: ['apps:read', 'apps:run'], expires_in_days: 30 } });
    expect(created.status).toBe(201);
    const key = await created.json();
    expect(key).toMatchObject({ name: 'deploy bot', prefix: 'tsk_', scopes: ['apps:read', 'apps:run'], last_used_at: null, key: expect.stringMatching(/^tsk_/) });
    const days = (Date.parse(key.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    const hashes = await server.db.query<{ token_hash: string }>('SELECT token_hash FROM api_keys WHERE id = $1', [key.id]);
    expect(hashes[0]!.token_hash).not.toBe(key.key); // only the hash is stored

    const meRes = await me(other.url, key.key);
    expect(meRes.status).toBe(200);
    expect(await meRes.json()).toMatchObject({ prefix: 'tsk_', scopes: ['apps:read', 'apps:run'], email: a.account.email });

    const list = await (await call(a, 'GET', '/api-keys')).json();
    expect(list).toMatchObject({ total: 1, data: [{ id: key.id, name: 'deploy bot' }] });
    expect(JSON.stringify(list)).not.toContain(key.key);

    expect((await call(a, 'DELETE', `/api-keys/${key.id}`)).status).toBe(204);
    await refusedWithinOneSecond(key.key);
    expect((await (await call(a, 'GET', '/api-keys')).json()).total).toBe(0);
    expect((await call(a, 'DELETE', `/api-keys/${key.id}`)).status).toBe(404);
  });

  it('when a key is created without an expiry, then it does not expire', async () => {
    const a = await signedIn();
    for (const body of [{ name: 'forever', scopes: ['apps:run'] }, { name: 'forever too', scopes: ['apps:run'], expires_in_days: null }]) {
      const key = await (await call(a, 'POST', '/api-keys', { body })).json();
      expect(key.expires_at).toBeNull();
    }
  });

  it.each([
    ['no name', { scopes: ['apps:read'] }],
    ['an empty name', { name: '  ', scopes: ['apps:read'] }],
    ['a name over 100 characters', { name: 'x'.repeat(101), scopes: ['apps:read'] }],
    ['no scopes', { name: 'k', scopes: [] }],
    ['the full scope', { name: 'k', scopes: ['full'] }],
    ['a repeated scope', { name: 'k', scopes: ['apps:read', 'apps:read'] }],
    ['a zero expiry', { name: 'k', scopes: ['apps:read'], expires_in_days: 0 }],
    ['an expiry as text', { name: 'k', scopes: ['apps:read'], expires_in_days: '30' }],
    ['an unknown field', { name: 'k', scopes: ['apps:read'], owner: 'someone' }],
    ['an array body', [1, 2]],
  ])('when the body has %s, then 400 invalid_request with details, and no key', async (_what, body) => {
    const a = await signedIn();
    const res = await call(a, 'POST', '/api-keys', { body });
    expect(res.status).toBe(400);
    const err = await res.json();
    expectErrorShape(err, 'invalid_request');
    expect(err.details.length).toBeGreaterThan(0);
    expect((await (await call(a, 'GET', '/api-keys')).json()).total).toBe(0);
  });

  it('when the body is not JSON, is broken JSON or too large, then 415, 400 or 413 in the error shape', async () => {
    const a = await signedIn();
    const form = await call(a, 'POST', '/api-keys', { body: 'name=k&scopes=apps:read', type: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expectErrorShape(await form.json(), 'unsupported_media_type');
    const broken = await call(a, 'POST', '/api-keys', { body: '{"name":' });
    expect(broken.status).toBe(400);
    expectErrorShape(await broken.json(), 'invalid_request');
    const big = await call(a, 'POST', '/api-keys', { body: JSON.stringify({ name: 'k', scopes: ['apps:read'], pad: 'x'.repeat(20_000) }) });
    expect(big.status).toBe(413);
  });

  it('when another account’s key id is revoked, then 404 and that key keeps working', async () => {
    const a = await signedIn();
    const b = await signedIn();
    const theirs = await (await call(b, 'POST', '/api-keys', { body: { name: 'b', scopes: ['apps:read'] } })).json();
    expect((await call(a, 'DELETE', `/api-keys/${theirs.id}`)).status).toBe(404);
    expect((await me(server.url, theirs.key)).status).toBe(200);
  });
});

describe('the account page API: sessions, CSRF and limits', () => {
  it('when there is no session, then every route answers 401 unauthenticated', async () => {
    for (const [method, path] of [['GET', '/devices'], ['DELETE', '/devices'], ['GET', '/api-keys'], ['POST', '/api-keys'], ['DELETE', `/api-keys/${'0'.repeat(8)}-0000-4000-8000-000000000000`]]) {
      const res = await call(null, method!, path!, method === 'POST' ? { body: { name: 'k', scopes: ['apps:read'] } } : {});
      expect(res.status).toBe(401);
      expectErrorShape(await res.json(), 'unauthenticated');
    }
  });

  it('when a change comes without the CSRF token or with a wrong one, then 403 csrf_failed and nothing changes', async () => {
    const a = await signedIn();
    const token = await mintToken(server, a.account, 'kept');
    const other = await signedIn();
    for (const csrf of [null, 'wrong', other.login.csrf]) {
      const del = await call(a, 'DELETE', '/devices', { csrf });
      expect(del.status).toBe(403);
      expectErrorShape(await del.json(), 'csrf_failed');
      const post = await call(a, 'POST', '/api-keys', { csrf, body: { name: 'k', scopes: ['apps:read'] } });
      expect(post.status).toBe(403);
    }
    expect((await me(server.url, token)).status).toBe(200);
    expect((await (await call(a, 'GET', '/api-keys')).json()).total).toBe(0);
  });

  it('when a session was signed out, then its cookie no longer reaches the account API', async () => {
    const a = await signedIn();
    const out = await fetch(`${server.url}/console/api/signout`, { method: 'POST', headers: { cookie: a.login.cookie, 'x-csrf-token': a.login.csrf } });
    expect(out.status).toBe(204);
    expect((await call(a, 'GET', '/devices')).status).toBe(401);
  });

  it('when one session makes more than 120 changes in an hour, then 429 rate_limited with the wait', async () => {
    const a = await signedIn();
    const missing = '00000000-0000-4000-8000-000000000000';
    for (let i = 0; i < 120; i++) expect((await call(a, 'DELETE', `/api-keys/${missing}`)).status).toBe(404);
    const limited = await call(a, 'DELETE', `/api-keys/${missing}`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = await limited.json();
    expectErrorShape(body, 'rate_limited');
    expect(body.retry_after_ms).toBeGreaterThan(0);
    // Reading is not a change: the page still loads.
    expect((await call(a, 'GET', '/devices')).status).toBe(200);
    // Another session of the same account has its own allowance.
    const again = await consoleSignin(server, a.account);
    expect((await call({ ...a, login: again }, 'DELETE', `/api-keys/${missing}`)).status).toBe(404);
  });
});

describe('the / and /account pages', () => {
  const page = (path: string, cookie?: string) => fetch(`${server.url}${path}`, { headers: cookie ? { cookie } : {}, redirect: 'manual' });

  it('when not signed in, then / describes the server with links and a sign-in link, under the strict CSP', async () => {
    const res = await page('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    for (const href of ['/device', '/account', '/docs', '/openapi/v1/openapi.yaml', '/signin?next=/account']) expect(html).toContain(`href="${href}"`);
    expect(html).toContain('You are not signed in.');
    for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect(src).toMatch(/^\//);
  });

  it('when signed in, then / says who you are', async () => {
    const a = await signedIn();
    const html = await (await page('/', a.login.cookie)).text();
    expect(html).toContain(`Signed in as <strong>${a.account.email}</strong>`);
    expect(html).toContain(`<meta name="csrf-token" content="${a.login.csrf}">`);
  });

  it('when not signed in, then /account sends the browser to sign in and back', async () => {
    const res = await page('/account');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/signin?next=/account');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('when signed in, then /account lists the devices and keys, escaped, with the CSRF token for the page script', async () => {
    const a = await signedIn();
    await mintToken(server, a.account, '<img src=x onerror=alert(1)>');
    await call(a, 'POST', '/api-keys', { body: { name: `<script>${uniq()}</script>`, scopes: ['apps:run'] } });
    const res = await page('/account', a.login.cookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain(`<meta name="csrf-token" content="${a.login.csrf}">`);
    expect(html).toContain('src="/assets/account.js"');
  });

  it('when the favicon is asked for, then it is served from this origin', async () => {
    const ico = await page('/favicon.ico');
    expect(ico.status).toBe(301);
    expect(ico.headers.get('location')).toBe('/assets/favicon.svg');
    const svg = await page('/assets/favicon.svg');
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
  });
});
