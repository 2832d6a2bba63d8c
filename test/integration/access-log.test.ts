import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/raw-http.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';

// The access log line carries the path only: a query string or a fragment in the request
// target can carry a user code, and must not reach the log.
let server: TestServer;
const logged = auditLog();
beforeAll(async () => {
  server = await startServer({ log: logged.log });
});
afterAll(() => server.close());

const requestLines = (from: number) =>
  logged.lines.slice(from).map((l) => JSON.parse(l) as { msg: string; path?: string; method?: string; status?: number }).filter((r) => r.msg === 'request');

describe('the access log', () => {
  it.each([
    ['/openapi/v1/me?user_code=SECRET-CODE', '/openapi/v1/me'],
    ['/openapi/v1/me#user_code=SECRET-CODE', '/openapi/v1/me'],
    ['/openapi/v1/me#a?user_code=SECRET-CODE', '/openapi/v1/me'],
    ['/device?user_code=SECRET-CODE', '/device'],
    ['/device#SECRET-CODE', '/device'],
    ['/OPENAPI/v1/me#SECRET-CODE', '/OPENAPI/v1/me'],
  ])('when the request target is %s, then the line has the path %s and nothing after it', async (target, path) => {
    const from = logged.lines.length;
    const res = await rawRequest(server.url, { method: 'GET', path: target, headers: {} });
    expect(res.status).toBeLessThan(500);
    await expect.poll(() => requestLines(from).length).toBe(1);
    const [line] = requestLines(from);
    expect(line).toMatchObject({ method: 'GET', path, status: res.status });
    expect(logged.lines.slice(from).join('\n')).not.toContain('SECRET-CODE');
  });
});
