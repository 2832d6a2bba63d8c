import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleSignin, decide, type ConsoleLogin } from '../helpers/console.ts';
import { backdateCollection, form, poll, startFlow } from '../helpers/device.ts';
import { deviceFlowFor } from '../../src/device-flow/device-flow-service.ts';
import { createAccount, member, uniq } from '../helpers/fixtures.ts';
import { reportTiming, startLoad } from '../helpers/load.ts';
import { RedisProcess, until } from '../helpers/processes.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

// Two replicas (a, b) on this file's own redis-server, which the tests kill and restart
// (empty: no persistence); Postgres is the shared test database, untouched.
let redis: RedisProcess;
let a: TestServer;
let b: TestServer;
// Enterprise: one test collects an external-SSO approval, whose tse_ token exists only in that edition.
const config = { rateLimitPerToken: 1_000_000, edition: 'enterprise' as const };

beforeAll(async () => {
  redis = await RedisProcess.start();
  a = await startServer({ redisUrl: redis.url, config });
  b = await startServer({ redisUrl: redis.url, db: a.db, config });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await redis?.close();
});

const me = (s: TestServer, auth: Record<string, string>) => fetch(`${s.url}/openapi/v1/me`, { headers: auth, signal: AbortSignal.timeout(5_000) });
const consoleSession = (s: TestServer, login: ConsoleLogin) => fetch(`${s.url}/console/api/session`, { headers: { cookie: login.cookie } });

/** Resolves when every given replica's store answers a PING (a refused one is retried). */
const reconnected = (...servers: TestServer[]) =>
  until(async () => {
    await Promise.all(servers.map((s) => s.store.ping()));
    return true;
  }, 'the replicas to reconnect');

/** Kills Redis and starts it again, empty; resolves when both replicas reach it again. */
async function restartRedis(): Promise<void> {
  await redis.stop('SIGKILL');
  await redis.start();
  await reconnected(a, b);
}

/**
 * Polls `server` with a revoked token and returns how long the first refusal (401)
 * took. Unless the replica cannot know yet (`mayAcceptUntilTold`), a 200 at any point
 * fails: the revoked token was accepted.
 */
async function msUntilRefused(server: TestServer, auth: Record<string, string>, mayAcceptUntilTold = false): Promise<number> {
  const seen: number[] = [];
  const ms = await until(async () => {
    const status = (await me(server, auth)).status;
    seen.push(status);
    return status === 401;
  }, 'the revoked token to be refused');
  if (!mayAcceptUntilTold) expect(seen).not.toContain(200);
  return ms;
}

describe('Redis stops under load', () => {
  it('when Redis is killed and restarted, then bearer requests answer 503 meanwhile (never a 500 or a hang), and both replicas serve again within 2 s', async () => {
    const m = await member(a);
    const load = startLoad([
      { url: `${a.url}/openapi/v1/me`, headers: m.auth },
      { url: `${b.url}/openapi/v1/me`, headers: m.auth },
      { url: `${b.url}/openapi/v1/apps/${m.appId}/info`, headers: m.auth },
    ]);
    await until(async () => (load.histogram.get('200') ?? 0) >= 20, 'load to flow');
    await redis.stop('SIGKILL');
    await until(async () => (load.histogram.get('503') ?? 0) >= 20, '503s during the outage');
    const down = await me(b, m.auth);
    expect(down.status).toBe(503);
    expectMatchesSpec('get', '/me', 503, await down.json());
    await redis.start();
    const recovery = await until(async () => (await me(a, m.auth)).status === 200 && (await me(b, m.auth)).status === 200, 'both replicas to serve');
    reportTiming('Redis back → first 200 on both replicas (under load)', recovery);
    const histogram = await load.stop();
    expect([...histogram.keys()].sort()).toEqual(['200', '503']);
    expect(recovery).toBeLessThan(2_000);
  });
});

describe('state that survives a Redis restart', () => {
  it('when Redis restarts empty, then a signed-out console session stays signed out, and a live one stays live, on every replica', async () => {
    const account = await createAccount(a.db);
    const stays = await consoleSignin(a, account);
    const leaves = await consoleSignin(a, account);
    const out = await fetch(`${b.url}/console/api/signout`, { method: 'POST', headers: { cookie: leaves.cookie, 'x-csrf-token': leaves.csrf } });
    expect(out.status).toBe(204);
    expect((await consoleSession(a, leaves)).status).toBe(401);
    await restartRedis();
    for (const s of [a, b]) {
      expect((await consoleSession(s, leaves)).status).toBe(401);
      expect((await consoleSession(s, stays)).status).toBe(200);
    }
  });

  it('when Redis is down, then console sessions are read from Postgres and a sign-out is recorded there, and it holds after Redis returns empty', async () => {
    const account = await createAccount(a.db);
    const stays = await consoleSignin(a, account);
    const leaves = await consoleSignin(a, account);
    await redis.stop('SIGKILL');
    expect((await consoleSession(b, stays)).status).toBe(200);
    const out = await fetch(`${a.url}/console/api/signout`, { method: 'POST', headers: { cookie: leaves.cookie, 'x-csrf-token': leaves.csrf } });
    expect(out.status).toBe(204);
    expect((await consoleSession(b, leaves)).status).toBe(401);
    await redis.start();
    await reconnected(a, b);
    for (const s of [a, b]) {
      expect((await consoleSession(s, leaves)).status).toBe(401);
      expect((await consoleSession(s, stays)).status).toBe(200);
    }
  });

  it('when Redis restarts empty between approval and collection, then the polling CLI still gets exactly one token, across replicas, and a late replay revokes it', async () => {
    const account = await createAccount(a.db);
    const flow = await startFlow(a);
    expect((await decide(a, 'approve', flow.user_code, await consoleSignin(a, account))).status).toBe(200);
    await restartRedis();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => poll(i % 2 ? a : b, flow.device_code)));
    const bodies = await Promise.all(results.map((r) => r.json()));
    const tokens = bodies.filter((x) => x.access_token).map((x) => x.access_token as string);
    expect(tokens).toHaveLength(1);
    expect(bodies.filter((x) => !x.access_token).every((x) => x.error === 'invalid_grant')).toBe(true);
    const auth = { Authorization: `Bearer ${tokens[0]}` };
    expect(await (await me(b, auth)).json()).toMatchObject({ sub: account.id });
    expect((await (await poll(a, flow.device_code)).json()).error).toBe('invalid_grant');
    expect((await me(a, auth)).status).toBe(200);
    await backdateCollection(a, flow.device_code);
    expect((await (await poll(b, flow.device_code)).json()).error).toBe('invalid_grant');
    expect((await me(a, auth)).status).toBe(401);
  });

  it('when Redis restarts empty between an SSO approval and collection, then the poll still gets the tse_ token for the IdP subject, exactly once', async () => {
    const flow = await startFlow(a);
    const service = deviceFlowFor(a.app.services);
    const found = await service.findPending(flow.user_code);
    const subject = { issuer: 'https://idp.fault.example', sub: `sub-${uniq()}`, email: `sso-${uniq()}@corp.example`, name: 'SSO User' };
    expect(await service.resolveExternal(found!.hash, found!.rec, subject, 'approved')).toBe('ok');
    await restartRedis();
    const bodies = await Promise.all(Array.from({ length: 6 }, (_, i) => poll(i % 2 ? a : b, flow.device_code).then((r) => r.json())));
    const granted = bodies.filter((x) => x.access_token);
    expect(granted).toHaveLength(1);
    expect(granted[0]).toMatchObject({ token_type: 'Bearer', scope: 'apps:run apps:read:permitted' });
    expect(granted[0].access_token).toMatch(/^tse_/);
    const principal = await (await me(b, { Authorization: `Bearer ${granted[0].access_token}` })).json();
    expect(principal).toMatchObject({ sub: subject.sub, email: subject.email, subject_issuer: subject.issuer, prefix: 'tse_' });
  });

  it('when Redis restarts empty before the user decides, then the code is gone: the CLI hears invalid_grant and starts over', async () => {
    const flow = await startFlow(a);
    expect((await (await poll(a, flow.device_code)).json()).error).toBe('authorization_pending');
    await restartRedis();
    expect((await (await poll(b, flow.device_code)).json()).error).toBe('invalid_grant');
    expect(await (await fetch(`${a.url}/openapi/v1/oauth/device/lookup?user_code=${flow.user_code}`)).json()).toEqual({ valid: false });
  });
});

describe('the recommended Redis persistence', () => {
  it('when a Redis with AOF (everysec) restarts, then a login waiting for the user survives it and completes', async () => {
    const aof = await RedisProcess.start(['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction']);
    const c = await startServer({ redisUrl: aof.url, db: a.db, config });
    try {
      const account = await createAccount(a.db);
      const flow = await startFlow(c);
      expect((await (await poll(c, flow.device_code)).json()).error).toBe('authorization_pending');
      await aof.stop('SIGTERM');
      await aof.start();
      await reconnected(c);
      const lookup = await (await fetch(`${c.url}/openapi/v1/oauth/device/lookup?user_code=${flow.user_code}`)).json();
      expect(lookup).toMatchObject({ valid: true });
      expect((await decide(c, 'approve', flow.user_code, await consoleSignin(c, account))).status).toBe(200);
      expect((await poll(c, flow.device_code)).status).toBe(200);
    } finally {
      await c.close();
      await aof.close();
    }
  });
});

describe('revocation while Redis is away', () => {
  it('when a token is revoked during a Redis outage, then after Redis returns every replica refuses it within 1 s', async () => {
    const m = await member(a);
    for (const s of [a, b]) expect((await me(s, m.auth)).status).toBe(200);
    await redis.stop('SIGKILL');
    const revoked = await form(`${a.url}/openapi/v1/oauth/revoke`, { token: m.token });
    expect(revoked.status).toBe(200);
    expect((await me(b, m.auth)).status).toBe(503);
    await redis.start();
    const ms = Math.max(await msUntilRefused(b, m.auth), await msUntilRefused(a, m.auth));
    reportTiming('Redis back → revoked token refused on every replica', ms);
    expect(ms).toBeLessThan(1_000);
  });

  it("when only one replica's link to Redis drops and a token is revoked elsewhere meanwhile, then that replica stops caching at once and refuses the token within 1 s of the link returning", async () => {
    const proxy = new TcpProxy('127.0.0.1', redis.port);
    await proxy.start();
    const c = await startServer({ redisUrl: proxy.url(redis.url), db: a.db, config });
    try {
      const m = await member(a);
      expect((await me(c, m.auth)).status).toBe(200);
      expect(c.app.services.authenticator.cache.live).toBe(true);
      await proxy.cut();
      await until(async () => !c.app.services.authenticator.cache.live, 'the cache to notice the lost subscription');
      expect(c.app.services.appCache.live).toBe(false);
      expect((await form(`${a.url}/openapi/v1/oauth/revoke`, { token: m.token })).status).toBe(200);
      await proxy.restore();
      const ms = await msUntilRefused(c, m.auth);
      reportTiming('link back → revoked token refused on the cut-off replica', ms);
      expect(ms).toBeLessThan(1_000);
      await until(async () => c.app.services.authenticator.cache.live, 'the subscription to be live again');
    } finally {
      await c.close();
      await proxy.cut();
    }
  });

  it('when a replica revokes a token while its own link to Redis is down, then it publishes the invalidation once the link returns, and the others refuse the token within 1 s', async () => {
    const proxy = new TcpProxy('127.0.0.1', redis.port);
    await proxy.start();
    const c = await startServer({ redisUrl: proxy.url(redis.url), db: a.db, config });
    try {
      const m = await member(a);
      expect((await me(b, m.auth)).status).toBe(200);
      await proxy.cut();
      expect((await form(`${c.url}/openapi/v1/oauth/revoke`, { token: m.token })).status).toBe(200);
      // b's cache still holds the token and b's subscription never dropped: until c's message
      // arrives b cannot know (the cache TTL bounds that), so b may answer 200 meanwhile.
      await proxy.restore();
      const ms = await msUntilRefused(b, m.auth, true);
      reportTiming('publisher link back → revoked token refused elsewhere', ms);
      expect(ms).toBeLessThan(1_000);
    } finally {
      await c.close();
      await proxy.cut();
    }
  });

  it('when only the subscriber connection is killed, then the store reports the subscription lost and live again, and messages flow after it', async () => {
    const states: boolean[] = [];
    const got: string[] = [];
    const unsubscribe = await a.store.subscribe('test:fault:channel', (m) => got.push(m), (live) => states.push(live));
    const admin = new Redis(redis.url);
    try {
      await admin.client('KILL', 'TYPE', 'pubsub');
      await until(async () => states.includes(false) && states.at(-1) === true, 'the subscription to drop and come back');
      await a.store.publish('test:fault:channel', 'after');
      await until(async () => got.includes('after'), 'a message after resubscribing');
    } finally {
      admin.disconnect();
      await unsubscribe();
    }
  });
});
