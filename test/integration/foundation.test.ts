import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { member } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

let server: TestServer;
let auth: Record<string, string>;

beforeAll(async () => {
  server = await startServer();
  ({ auth } = await member(server));
});
afterAll(() => server.close());

const post = (path: string, body: string, headers: Record<string, string>) =>
  fetch(`${server.url}/openapi/v1${path}`, { method: 'POST', body, headers });

describe('health', () => {
  it('when Postgres and Redis answer, then /_health is 200 ok without a token', async () => {
    const { data, response } = await server.api.GET('/_health');
    expect(response.status).toBe(200);
    expect(data).toEqual({ ok: true, version: expect.any(String), checks: { database: 'ok', store: 'ok' }, store_deployment: 'redis' });
    expectMatchesSpec('get', '/_health', 200, data);
  });
});

describe('bad input gets the documented 4xx', () => {
  it('when the JSON body is malformed, then 400 invalid_request', async () => {
    const res = await post('/me/api-keys', '{"name": ', { ...auth, 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error).toBe('invalid_request');
    expectMatchesSpec('post', '/me/api-keys', 400, body);
  });

  it('when the content type is not JSON, then 415 unsupported_media_type', async () => {
    const res = await post('/me/api-keys', 'name=x', { ...auth, 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    expect((await res.json()).error).toBe('unsupported_media_type');
  });

  it('when the body is over 1 MB, then 413 payload_too_large', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(1_100_000), scopes: ['apps:read'] });
    const res = await post('/me/api-keys', big, { ...auth, 'content-type': 'application/json' });
    expect(res.status).toBe(413);
    expect((await res.json()).error).toBe('payload_too_large');
  });

  it('when the body fails the schema, then 400 with details naming the field', async () => {
    const res = await post('/me/api-keys', JSON.stringify({ name: 'k', scopes: ['admin'] }), { ...auth, 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.details.some((d: { path: string }) => d.path.includes('scopes'))).toBe(true);
  });

  it('when a query parameter is unknown, then 400', async () => {
    const res = await fetch(`${server.url}/openapi/v1/_health?nope=1`);
    expect(res.status).toBe(400);
  });

  it('when the route is unknown under /openapi/v1, then 404 not_found in the API shape', async () => {
    const res = await fetch(`${server.url}/openapi/v1/does-not-exist`, { headers: auth });
    expect(res.status).toBe(404);
    const body = await res.json();
    expect(body).toMatchObject({ error: 'not_found' });
    expect(body.request_id).toBe(res.headers.get('x-request-id'));
  });
});

describe('request ids and the spec', () => {
  it('when X-Request-Id is sent, then it is echoed', async () => {
    const res = await fetch(`${server.url}/openapi/v1/_health`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
  });

  it('when no X-Request-Id is sent, then one is made', async () => {
    const res = await fetch(`${server.url}/openapi/v1/_health`);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('then the spec is served as YAML and JSON', async () => {
    const yaml = await fetch(`${server.url}/openapi/v1/openapi.yaml`);
    expect(yaml.status).toBe(200);
    expect(await yaml.text()).toContain('openapi: 3.1.0');
    const json = await (await fetch(`${server.url}/openapi/v1/openapi.json`)).json();
    expect(json.paths['/me'].get.operationId).toBe('getMe');
  });
});
