import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specOperations } from '../../src/http/spec.ts';
import { consoleSignin, type ConsoleLogin } from '../helpers/console.ts';
import { clientIp, GRANT } from '../helpers/device.ts';
import { member } from '../helpers/fixtures.ts';
import { rawRequest, type RawResponse } from '../helpers/raw-http.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { errorBodyProblems } from '../helpers/spec.ts';

// Regression tests for the defects found by the outside fuzz run: each failed before the fix.

let server: TestServer;
let auth: Record<string, string>;
let appId: string;
let login: ConsoleLogin;
const logged = auditLog('debug');
const logLines = logged.records as { level: number; msg?: string; problem?: string; err?: { stack?: string } }[];

beforeAll(async () => {
  server = await startServer({ log: logged.log });
  const m = await member(server);
  ({ auth, appId } = m);
  login = await consoleSignin(server, m.account);
});
afterAll(() => server.close());

const send = (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string) =>
  rawRequest(server.url, { method, path, headers: { ...clientIp(), ...headers }, body });
const json = (res: RawResponse) => JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;

function expectApiError(res: RawResponse, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = json(res);
  expect(body).toMatchObject({ error: code, request_id: res.headers['x-request-id'] });
  expect(errorBodyProblems(body)).toBeNull();
}

function expectOAuthError(res: RawResponse, status: number, code = 'invalid_request') {
  expect(res.status).toBe(status);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(json(res)).toEqual({ error: code, error_description: expect.any(String) });
}

/** Nothing logged at warn or above, and no stack trace anywhere, since `from`. */
function expectQuietLogSince(from: number) {
  const lines = logLines.slice(from);
  expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  expect(lines.filter((l) => l.err?.stack)).toEqual([]);
}

const MALFORMED = ['%ff', '%', '%zz', '%E0%A4%A', '%C0%AE%C0%AE'];

describe('malformed percent-encoding in a path', () => {
  it('when any parameterised operation of the spec gets a malformed parameter, then 400 invalid_request in the API shape, with or without a token, logged below warn', async () => {
    const from = logLines.length;
    const ops = specOperations().filter((op) => op.path.includes('{'));
    expect(ops.length).toBeGreaterThan(5);
    for (const op of ops) {
      const params = [...op.expressPath.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      for (const target of params) {
        for (const bad of MALFORMED) {
          const path = `/openapi/v1${op.expressPath.replace(/:(\w+)/g, (_m, name: string) => (name === target ? bad : name === 'app_id' ? appId : randomUUID()))}`;
          for (const headers of [auth, {}]) {
            const res = await send(op.method.toUpperCase(), path, { ...headers, 'content-type': 'application/json' }, op.method === 'get' ? undefined : '{}');
            expect(`${op.operationId} ${target}=${bad}: ${res.status}`).toBe(`${op.operationId} ${target}=${bad}: 400`);
            expectApiError(res, 400, 'invalid_request');
          }
        }
      }
    }
    expectQuietLogSince(from);
  });

  it('when the OAuth surface gets one, then 400 in the RFC 6749 §5.2 shape', async () => {
    for (const bad of MALFORMED) {
      expectOAuthError(await send('GET', `/openapi/v1/oauth/device/lookup${bad}`), 400);
      expectOAuthError(await send('POST', `/openapi/v1/oauth/${bad}`, { 'content-type': 'application/x-www-form-urlencoded' }, 'a=b'), 400);
    }
  });

  it('when the console API or a page gets one, then 400 in the API shape or an HTML 400 page, never a 503', async () => {
    const from = logLines.length;
    for (const bad of MALFORMED) {
      expectApiError(await send('GET', `/console/api/${bad}`), 400, 'invalid_request');
      for (const path of [`/assets/${bad}`, `/signin${bad}`, `/${bad}`, `/device/${bad}`]) {
        const res = await send('GET', path);
        expect(res.status, path).toBe(400);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.headers['x-frame-options']).toBe('DENY');
      }
    }
    expectQuietLogSince(from);
  });
});

describe('bodies whose Content-Encoding cannot be decoded', () => {
  const broken = {
    'truncated gzip': { 'content-encoding': 'gzip', body: gzipSync(Buffer.from('{"name":"k","scopes":["apps:read"]}')).subarray(0, 12) },
    'invalid deflate': { 'content-encoding': 'deflate', body: Buffer.from('this is not deflate') },
    'truncated deflate': { 'content-encoding': 'deflate', body: deflateSync(Buffer.from('{"a":"b"}')).subarray(0, 5) },
    'invalid br': { 'content-encoding': 'br', body: Buffer.from('garbage') },
    'truncated br': { 'content-encoding': 'br', body: brotliCompressSync(Buffer.from('{"a":"b"}')).subarray(0, 3) },
  };
  const jsonPosts = () => [
    ...specOperations()
      .filter((op) => op.method === 'post')
      .map((op) => `/openapi/v1${op.expressPath.replace(':app_id', appId).replace(/:\w+/g, '0e7a4f8e-7c1b-4a39-9d8e-2f1a3b4c5d6e')}`),
    '/console/api/signin',
  ];

  it('when a JSON POST route or the console sign-in gets one, then 400 invalid_request in the API shape, logged below warn', async () => {
    const from = logLines.length;
    const routes = jsonPosts();
    expect(routes.length).toBeGreaterThan(4);
    for (const path of routes) {
      for (const [name, { body, ...enc }] of Object.entries(broken)) {
        const res = await send('POST', path, { ...auth, 'content-type': 'application/json', ...enc }, body);
        expect(`${name} ${path} ${res.status}`).toBe(`${name} ${path} 400`);
        expectApiError(res, 400, 'invalid_request');
      }
      expectApiError(await send('POST', path, { ...auth, 'content-type': 'application/json', 'content-encoding': 'compress' }, '{}'), 415, 'unsupported_media_type');
    }
    expectQuietLogSince(from);
  });

  it('when an OAuth POST endpoint gets one, then 400 in the RFC shape, and 415 for an encoding it does not support', async () => {
    const from = logLines.length;
    const form = { 'content-type': 'application/x-www-form-urlencoded', cookie: login.cookie, 'x-csrf-token': login.csrf };
    for (const endpoint of ['device/code', 'token', 'revoke', 'device/approve', 'device/deny']) {
      for (const [name, { body, ...enc }] of Object.entries(broken)) {
        const res = await send('POST', `/openapi/v1/oauth/${endpoint}`, { ...form, ...enc }, body);
        expect(`${name} ${endpoint} ${res.status}`).toBe(`${name} ${endpoint} 400`);
        expectOAuthError(res, 400);
      }
      expectOAuthError(await send('POST', `/openapi/v1/oauth/${endpoint}`, { ...form, 'content-encoding': 'compress' }, 'client_id=tessera-cli'), 415);
    }
    expectQuietLogSince(from);
  });

  it('when a correctly gzipped form arrives, then it is read as usual', async () => {
    const body = gzipSync(Buffer.from('client_id=tessera-cli&device_label=gz'));
    const res = await send('POST', '/openapi/v1/oauth/device/code', { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, body);
    expect(res.status).toBe(200);
    expect(json(res).user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
  });

  it('when a client sends half a body and hangs up, then nothing is logged as an error and the server carries on', async () => {
    const from = logLines.length;
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `POST /openapi/v1/me/api-keys HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.Authorization}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":`,
    );
    socket.destroy();
    await expect.poll(() => logLines.slice(from).some((l) => l.problem === 'body_aborted'), { timeout: 10_000 }).toBe(true);
    expectQuietLogSince(from);
    expect((await send('GET', '/openapi/v1/me', auth)).status).toBe(200);
  });
});

describe('client authentication at the OAuth endpoints (RFC 6749 §5.2)', () => {
  it('when the token endpoint gets Authorization: Basic, then 401 invalid_client with WWW-Authenticate: Basic', async () => {
    const body = `grant_type=${encodeURIComponent(GRANT)}&device_code=x&client_id=tessera-cli`;
    const basic = `Basic ${Buffer.from('tessera-cli:secret').toString('base64')}`;
    const res = await send('POST', '/openapi/v1/oauth/token', { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, body);
    expectOAuthError(res, 401, 'invalid_client');
    expect(res.headers['www-authenticate']).toBe('Basic realm="tessera"');
    for (const endpoint of ['device/code', 'revoke']) {
      const other = await send('POST', `/openapi/v1/oauth/${endpoint}`, { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, 'client_id=tessera-cli&token=x');
      expectOAuthError(other, 401, 'invalid_client');
      expect(other.headers['www-authenticate']).toBe('Basic realm="tessera"');
    }
  });

  it('when a public client sends no Authorization, then the usual answer and no WWW-Authenticate', async () => {
    const res = await send('POST', '/openapi/v1/oauth/token', { 'content-type': 'application/x-www-form-urlencoded' }, `grant_type=${encodeURIComponent(GRANT)}&device_code=x&client_id=tessera-cli`);
    expectOAuthError(res, 400, 'invalid_grant');
    expect(res.headers['www-authenticate']).toBeUndefined();
  });
});

describe('unknown paths and wrong methods', () => {
  it('when a path under /openapi/v1 is unknown, then a JSON 404 in the API shape; under /openapi/v1/oauth, in the RFC shape', async () => {
    expectApiError(await send('GET', '/openapi/v1/nope', auth), 404, 'not_found');
    expectApiError(await send('POST', '/openapi/v1/apps/nope/nope', { 'content-type': 'application/json' }, '{}'), 404, 'not_found');
    expectOAuthError(await send('GET', '/openapi/v1/oauth/nope'), 404);
    expectApiError(await send('GET', '/console/api/nope'), 404, 'not_found');
  });

  it('when a known path gets another method, then 405 with Allow, in the surface shape', async () => {
    const put = await send('PUT', '/openapi/v1/me', auth);
    expectApiError(put, 405, 'method_not_allowed');
    expect(put.headers.allow).toBe('GET, OPTIONS');
    const token = await send('GET', '/openapi/v1/oauth/token');
    expectOAuthError(token, 405);
    expect(token.headers.allow).toBe('POST, OPTIONS');
    const post = await send('POST', `/openapi/v1/apps/${appId}/info`, { ...auth, 'content-type': 'application/json' }, '{}');
    expectApiError(post, 405, 'method_not_allowed');
    expect(post.headers.allow).toBe('GET, OPTIONS');
    const signin = await send('GET', '/console/api/signin');
    expectApiError(signin, 405, 'method_not_allowed');
    expect(signin.headers.allow).toBe('POST, OPTIONS');
    const metadata = await send('POST', '/.well-known/oauth-authorization-server');
    expectOAuthError(metadata, 405);
    const page = await send('POST', '/signin');
    expect(page.status).toBe(405);
    expect(page.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(page.headers['content-type']).toMatch(/^text\/html/);
  });

  it('when a page does not exist, then an HTML 404, not Express\'s "Cannot GET"', async () => {
    const res = await send('GET', '/nope');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body.toString()).not.toContain('Cannot GET');
  });

  it('when OPTIONS is sent without a preflight, then 204 with Allow; a CORS preflight is answered as before', async () => {
    const plain = await send('OPTIONS', '/openapi/v1/me');
    expect(plain.status).toBe(204);
    expect(plain.headers.allow).toBe('GET, OPTIONS');
    const cors = await startServer({ config: { corsAllowOrigins: ['https://app.example'] } });
    try {
      const preflight = await rawRequest(cors.url, {
        method: 'OPTIONS',
        path: '/openapi/v1/me',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(preflight.headers['access-control-allow-methods']).toBe('GET, POST, PATCH, DELETE, OPTIONS');
      expect(preflight.headers.allow).toBeUndefined();
    } finally {
      await cors.close();
    }
  });
});

describe('validation errors stay small', () => {
  it('when a run gets 50,000 unknown inputs, then a 400 listing 20 problems and a count of the rest, in a few kilobytes', async () => {
    const inputs = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 'x']));
    const res = await send('POST', `/openapi/v1/apps/${appId}/chat-messages`, { ...auth, 'content-type': 'application/json' }, JSON.stringify({ query: 'hi', inputs }));
    expectApiError(res, 400, 'invalid_request');
    expect(res.body.length).toBeLessThan(4096);
    const details = json(res).details as { path: string; message: string }[];
    expect(details).toHaveLength(21);
    expect(details[0]).toEqual({ path: '/body/inputs/k0', message: 'k0 is not an input of this app' });
    expect(details[20]).toEqual({ path: '', message: '49980 more problems not shown' });
  });

  it('when an unknown query parameter has a huge name, then the message is clipped', async () => {
    const res = await send('GET', `/openapi/v1/apps/${appId}/info?${'q'.repeat(6000)}=1`, auth);
    expect(res.status).toBe(400);
    expect(res.body.length).toBeLessThan(2048);
  });
});
