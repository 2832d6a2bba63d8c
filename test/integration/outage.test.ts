import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/storage/db.ts';
import { RedisStore } from '../../src/storage/store/index.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.ts';
import { member } from '../helpers/fixtures.ts';
import { until } from '../helpers/processes.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

describe('dependency outages: 503, never a hang, and recovery', () => {
  const pgProxy = TcpProxy.forUrl(TEST_DATABASE_URL);
  const redisProxy = TcpProxy.forUrl(TEST_REDIS_URL);
  let server: TestServer;
  let db: Database;
  let store: RedisStore;

  beforeAll(async () => {
    await pgProxy.start();
    await redisProxy.start();
    db = new Database(pgProxy.url(TEST_DATABASE_URL));
    store = await RedisStore.connect(redisProxy.url(TEST_REDIS_URL));
    server = await startServer({ db, store });
  });
  afterAll(async () => {
    await server.close();
    await store.close();
    await db.close();
    await pgProxy.cut();
    await redisProxy.cut();
  });

  const health = async () => {
    const res = await fetch(`${server.url}/openapi/v1/_health`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: await res.json() };
  };

  it('when Redis goes away, then health is 503 store:unavailable, bearer routes 503, and both recover', async () => {
    const m = await member(server);
    expect((await health()).status).toBe(200);
    await redisProxy.cut();
    const down = await health();
    expect(down).toEqual({ status: 503, body: { ok: false, version: expect.any(String), checks: { database: 'ok', store: 'unavailable' }, store_deployment: 'redis' } });
    expectMatchesSpec('get', '/_health', 503, down.body);
    const me = await fetch(`${server.url}/openapi/v1/me`, { headers: m.auth, signal: AbortSignal.timeout(5_000) });
    expect(me.status).toBe(503);
    const body = await me.json();
    expect(body.error).toBe('service_unavailable');
    expectMatchesSpec('get', '/me', 503, body);
    await redisProxy.restore();
    await until(async () => (await health()).status === 200, 'health to be 200');
    await until(async () => (await fetch(`${server.url}/openapi/v1/me`, { headers: m.auth })).status === 200, '/me to answer 200');
  });

  it('when Postgres goes away, then health is 503 database:unavailable, cold bearer requests 503, and both recover', async () => {
    const m = await member(server);
    await pgProxy.cut();
    const down = await health();
    expect(down).toEqual({ status: 503, body: { ok: false, version: expect.any(String), checks: { database: 'unavailable', store: 'ok' }, store_deployment: 'redis' } });
    const me = await fetch(`${server.url}/openapi/v1/me`, { headers: m.auth, signal: AbortSignal.timeout(5_000) });
    expect(me.status).toBe(503);
    expect((await me.json()).error).toBe('service_unavailable');
    await pgProxy.restore();
    await until(async () => (await health()).status === 200, 'health to be 200');
    expect((await fetch(`${server.url}/openapi/v1/me`, { headers: m.auth })).status).toBe(200);
  });
});
