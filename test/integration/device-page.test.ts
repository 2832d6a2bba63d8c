import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleSignin, type ConsoleLogin } from '../helpers/console.ts';
import { startFlow } from '../helpers/device.ts';
import { createAccount, type TestAccount } from '../helpers/fixtures.ts';
import { HOSTILE_NEXT } from '../helpers/hostile.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let account: TestAccount;
let login: ConsoleLogin;
beforeAll(async () => {
  server = await startServer();
  account = await createAccount(server.db);
  login = await consoleSignin(server, account);
});
afterAll(() => server.close());

let n = 0;
const ip = () => ({ 'x-forwarded-for': `10.3.${++n % 250}.${Math.floor(Math.random() * 250)}` });
const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers, redirect: 'manual' });

function expectPageHeaders(res: Response) {
  expect(res.headers.get('x-frame-options')).toBe('DENY');
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("default-src 'none'");
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe('the /device and /signin pages', () => {
  it('when not signed in, then /device sends the browser to /signin and back, with anti-framing headers', async () => {
    const res = await get('/device?user_code=ABCD-EFGH');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/signin?next=%2Fdevice%3Fuser_code%3DABCD-EFGH');
    expectPageHeaders(res);
    const signin = await get('/signin?next=%2Fdevice%3Fuser_code%3DABCD-EFGH');
    expect(signin.status).toBe(200);
    expectPageHeaders(signin);
    const html = await signin.text();
    expect(html).toContain('data-next="/device?user_code=ABCD-EFGH"');
    expect(html).toMatch(/<label for="email">Email<\/label>/);
    expect(html).toMatch(/<label for="password">Password<\/label>/);
    // No external assets: every script and stylesheet is same-origin.
    for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect(src).toMatch(/^\//);
  });

  it('when the cookie names an account that no longer exists, then it is cleared (no /signin ↔ /device loop)', async () => {
    const gone = await createAccount(server.db);
    const goneLogin = await consoleSignin(server, gone);
    await server.db.query('DELETE FROM accounts WHERE id = $1', [gone.id]);
    const res = await get('/device', { cookie: goneLogin.cookie });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/^tessera_session=; Max-Age=0/);
    const signin = await get('/signin', { cookie: goneLogin.cookie });
    expect(signin.status).toBe(200);
  });

  it('when the return address points elsewhere, then sign-in returns to /device instead', async () => {
    for (const next of ['//evil.example/x', 'https://evil.example', '/\\evil.example', '/\t/evil.example/x', '/\n/evil.example', '/ /evil.example', 'javascript:alert(1)']) {
      const html = await (await get(`/signin?next=${encodeURIComponent(next)}`)).text();
      expect(html).toContain('data-next="/device"');
    }
  });

  it('when a signed-in user opens /signin with a return address that normalises to another host, then the redirect stays on this origin', async () => {
    const raw = ['%2F..%2F%2Fevil.example', ...HOSTILE_NEXT.map((v) => encodeURIComponent(v))];
    for (const next of raw) {
      const res = await get(`/signin?next=${next}`, { cookie: login.cookie });
      expect(res.status).toBe(303);
      const location = res.headers.get('location')!;
      expect(location, next).toMatch(/^\/(?![/\\])/);
      expect(new URL(location, server.url).origin).toBe(server.url);
      const html = await (await get(`/signin?next=${next}`)).text();
      const rendered = /data-next="([^"]*)"/.exec(html)![1]!.replace(/&amp;/g, '&');
      expect(rendered, next).toMatch(/^\/(?![/\\])/);
      expect(new URL(rendered, server.url).origin).toBe(server.url);
    }
    const home = await get('/signin?next=%2Fdevice%3Fuser_code%3DABCD-EFGH', { cookie: login.cookie });
    expect(home.headers.get('location')).toBe('/device?user_code=ABCD-EFGH');
  });

  it('when signed in with a live code, then the confirm view shows client, device label, code and time left, escaped', async () => {
    const flow = await startFlow(server, { device_label: '<b>laptop</b>' }, ip());
    const res = await get(`/device?user_code=${flow.user_code.toLowerCase()}`, { cookie: login.cookie, ...ip() });
    expect(res.status).toBe(200);
    expectPageHeaders(res);
    const html = await res.text();
    expect(html).toContain('<dd id="client">tessera-cli</dd>');
    expect(html).toContain('&lt;b&gt;laptop&lt;/b&gt;');
    expect(html).not.toContain('<b>laptop</b>');
    expect(html).toContain(`<span id="code" class="code code-display">${flow.user_code}</span>`);
    expect(html).toMatch(/data-expires-in="(89\d|900)"/);
    expect(html).toContain(`<meta name="csrf-token" content="${login.csrf}">`);
    expect(html).toContain('id="approve"');
    expect(html).toContain('id="deny"');
  });

  it('when the code is unknown, then one generic message, the entry form, and the code as typed', async () => {
    const html = await (await get(`/device?user_code=${encodeURIComponent('bbbb-bbbb')}`, { cookie: login.cookie, ...ip() })).text();
    expect(html).toContain('That code is not valid. It may have expired or been used already.');
    expect(html).toContain('<label for="user_code">');
    expect(html).toContain('value="bbbb-bbbb"');
    expect(html).not.toContain('id="approve"');
  });

  it('when the code has the wrong length or characters codes never have, then the page says which, keeps it typed (escaped), and spends no lookup', async () => {
    const from = ip();
    const cases: [string, string][] = [
      ['BCDF-GHJ', 'A code has 8 letters, like BCDF-GHJK; you entered 7.'],
      ['BCDF-GHJKL', 'you entered 9.'],
      ['x'.repeat(50), 'you entered 50.'],
      ['AEIO-UBCD', 'Codes contain only consonants'],
      ['"><b>x', 'Codes contain only consonants'],
    ];
    for (const [code, message] of cases) {
      const html = await (await get(`/device?user_code=${encodeURIComponent(code)}`, { cookie: login.cookie, ...from })).text();
      expect(html).toContain(message);
      expect(html).toContain('aria-invalid="true"');
      expect(html).not.toContain('<b>x');
    }
    expect(await (await get('/device?user_code=x', { cookie: login.cookie, ...from })).text()).toContain(`value="x"`);
    // None of those counted: this address still has all 60 lookups of its window.
    const statuses = [];
    for (let i = 0; i < 61; i++) statuses.push((await fetch(`${server.url}/openapi/v1/oauth/device/lookup?user_code=BBBBBBBB`, { headers: from })).status);
    expect(statuses.slice(0, 60).every((st) => st === 200)).toBe(true);
    expect(statuses[60]).toBe(429);
  });

  it('when the code is typed with an en dash, an em dash or a minus sign, then it is found like one with a hyphen', async () => {
    for (const dash of ['\u2013', '\u2014', '\u2212', '\u2010']) {
      const flow = await startFlow(server, {}, ip());
      const typed = flow.user_code.replace('-', dash);
      const html = await (await get(`/device?user_code=${encodeURIComponent(typed)}`, { cookie: login.cookie, ...ip() })).text();
      expect(html).toContain(`<span id="code" class="code code-display">${flow.user_code}</span>`);
    }
  });

  it('when an IP has used up its lookups, then the page answers 429 without looking the code up', async () => {
    const from = ip();
    for (let i = 0; i < 60; i++) await fetch(`${server.url}/openapi/v1/oauth/device/lookup?user_code=BBBBBBBB`, { headers: from });
    const res = await get('/device?user_code=BBBB-BBBB', { cookie: login.cookie, ...from });
    expect(res.status).toBe(429);
    expect(await res.text()).toMatch(/Too many attempts from your network. Try again in [1-5] minutes?\./);
  });

  it('when assets are requested, then they are served from this origin; the OAuth endpoints refuse framing too', async () => {
    for (const name of ['device.js', 'signin.js', 'console.css']) expect((await get(`/assets/${name}`)).status).toBe(200);
    expect((await get('/assets/nope.js')).status).toBe(404);
    const lookup = await get('/openapi/v1/oauth/device/lookup?user_code=BBBBBBBB', ip());
    expect(lookup.headers.get('x-frame-options')).toBe('DENY');
    expect(lookup.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
  });
});
