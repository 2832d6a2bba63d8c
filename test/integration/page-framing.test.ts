import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleSignin, type ConsoleLogin } from '../helpers/console.ts';
import { clientIp, startFlow } from '../helpers/device.ts';
import { createAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let login: ConsoleLogin;
beforeAll(async () => {
  server = await startServer();
  login = await consoleSignin(server, await createAccount(server.db));
});
afterAll(() => server.close());

/** Every form of a path that express routes to the same page: as declared, upper case, trailing slash, both. */
const forms = (path: string) => {
  const upper = path.toUpperCase();
  return path === '/' ? ['/'] : [path, upper, `${path}/`, `${upper}/`];
};

function expectNoFraming(res: Response, what: string) {
  expect(res.headers.get('x-frame-options'), what).toBe('DENY');
  expect(res.headers.get('content-security-policy'), what).toContain("frame-ancestors 'none'");
}

const get = (path: string, cookie?: string) => fetch(`${server.url}${path}`, { redirect: 'manual', headers: { ...clientIp(), ...(cookie ? { cookie } : {}) } });

describe('anti-framing on every page, whatever the form of its path', () => {
  it('when a page is asked for in any case or with a trailing slash, signed in or not, then it refuses framing and caching', async () => {
    for (const page of ['/', '/signin', '/device', '/account', '/docs', '/docs/device-flow']) {
      for (const path of forms(page)) {
        for (const cookie of [undefined, login.cookie]) {
          const res = await get(path, cookie);
          const what = `${path} ${cookie ? 'signed in' : 'signed out'} → ${res.status}`;
          // /docs is 503 until the offline docs are built (npm run docs); still a page.
          expect(res.status, what).toBeLessThan(page === '/docs' ? 504 : 500);
          expectNoFraming(res, what);
          if (!page.startsWith('/docs')) expect(res.headers.get('cache-control'), what).toBe('no-store');
        }
      }
    }
  });

  it('when the device confirm view is reached through a variant path, then it renders and refuses framing', async () => {
    for (const path of forms('/device')) {
      const flow = await startFlow(server);
      const res = await get(`${path}?user_code=${flow.user_code}`, login.cookie);
      expect(res.status, path).toBe(200);
      // The confirm view itself: the page someone would frame to trick a click on Approve.
      expect(await res.text(), path).toContain(flow.user_code);
      expectNoFraming(res, path);
      expect(res.headers.get('cache-control'), path).toBe('no-store');
    }
  });

  it('when a page path gets another method, a malformed path or no page at all, then the error page refuses framing too', async () => {
    const answers = await Promise.all([
      fetch(`${server.url}/Device/`, { method: 'POST' }),
      get('/device/%zz'),
      get('/no-such-page/'),
      get('/SIGNIN/?next=//evil.example'),
    ]);
    for (const res of answers) expectNoFraming(res, `${res.url} → ${res.status}`);
  });

  it('when an OAuth endpoint is asked for in any case or with a trailing slash, then every answer refuses framing', async () => {
    const paths = ['/openapi/v1/oauth/device/lookup?user_code=BCDF-GHJK', '/openapi/v1/oauth/token', '/openapi/v1/oauth/nope'];
    for (const path of paths) {
      const [route, query = ''] = path.split('?');
      for (const form of forms(route!)) {
        const res = await get(`${form.replace('/OPENAPI/V1', '/openapi/v1')}${query ? `?${query}` : ''}`);
        expectNoFraming(res, `${form} → ${res.status}`);
      }
    }
    const posted = await fetch(`${server.url}/OpenAPI/V1/OAuth/Token/`, { method: 'POST', body: 'grant_type=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(posted.status).toBe(400);
    expectNoFraming(posted, 'POST /OpenAPI/V1/OAuth/Token/');
  });
});
