import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/storage/store/index.ts';
import { topologyFor } from '../../src/storage/store/redis-topology.ts';
import { deviceLogin } from '../helpers/console.ts';
import { form } from '../helpers/device.ts';
import { failoverUnderLoad, HANG_MS, refusedWithin, reportFailover } from '../helpers/failover.ts';
import { createAccount, mintToken, type TestAccount } from '../helpers/fixtures.ts';
import { reportTiming } from '../helpers/load.ts';
import { RedisSentinels } from '../helpers/redis-topologies.ts';
import { startReplica, type ReplicaProcess } from '../helpers/replica-process.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';
import { describeStoreContract } from '../helpers/store-contract.ts';

// One Sentinel deployment for the whole file (a primary, a replica, three Sentinels with
// down-after-milliseconds 1000), two Tessera replicas in processes of their own on it and on
// the test database, and this worker's own app instance on it, which mints tokens. The last
// test kills the primary.
let redis: RedisSentinels;
let a: ReplicaProcess;
let b: ReplicaProcess;
let fixture: TestServer;
let account: TestAccount;

beforeAll(async () => {
  redis = await RedisSentinels.start();
  [a, b] = await Promise.all([startReplica('a', redis.env), startReplica('b', redis.env)]);
  fixture = await startServer({ store: await RedisStore.open(topologyFor(redis.deployment)) });
  account = await createAccount(fixture.db);
}, 180_000);
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await fixture?.close();
  await fixture?.store.close();
  await redis?.close();
});

const me = (r: { url: string }, token: string) => fetch(`${r.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(HANG_MS) });

describeStoreContract('RedisStore on Redis Sentinel', () => RedisStore.open(topologyFor(redis.deployment)));

describe('two replicas on one Sentinel deployment', () => {
  it('when a device login starts on one replica and is approved on the other, then its token works on both, and /_health says redis_sentinel', async () => {
    const token = await deviceLogin(a, b, account);
    for (const r of [a, b]) expect(await (await me(r, token)).json()).toMatchObject({ sub: account.id, prefix: 'tsa_' });
    const body = await (await fetch(`${b.url}/openapi/v1/_health`)).json();
    expect(body).toEqual({ ok: true, version: expect.any(String), checks: { database: 'ok', store: 'ok' }, store_deployment: 'redis_sentinel' });
    expectMatchesSpec('get', '/_health', 200, body);
  });

  it('when 200 requests for one token arrive at both replicas at once, then exactly 60 pass', async () => {
    const token = await mintToken(fixture, account);
    const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => me(i % 2 ? a : b, token).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    expect(statuses.filter((s) => s === 429)).toHaveLength(140);
  });

  it('when a token is revoked on one replica, then the other refuses it within 1 s', async () => {
    const token = await deviceLogin(b, a, account);
    for (const r of [a, b]) expect((await me(r, token)).status).toBe(200);
    expect((await form(`${b.url}/openapi/v1/oauth/revoke`, { token })).status).toBe(200);
    const ms = await refusedWithin(a, token);
    reportTiming('sentinel: revoked on b → refused on a', ms);
    expect(ms).toBeLessThan(1_000);
  });
});

describe('the primary killed under load', () => {
  it('when the primary is SIGKILLed while both replicas serve, then every answer is correct or 503, both serve again within 5 s of the promotion, and logins and revocations work afterwards', async () => {
    const oldPrimary = redis.primary.port;
    const inspect = new Redis({ sentinels: redis.deployment.sentinels.map((s) => ({ ...s })), name: redis.masterName });
    inspect.on('error', () => undefined);
    try {
      const report = await failoverUnderLoad([a, b], fixture, {
        onVictim: async () => true,
        kill: () => redis.primary.stop('SIGKILL'),
        promoted: () => redis.nextSwitch(),
        windowSize: (key) => inspect.zcard(key),
      });
      reportFailover('sentinel', report);
      expect(report.wrong).toEqual([]);
      expect(report.maxLatencyMs).toBeLessThan(HANG_MS);
      for (const ms of Object.values(report.servingAgainMs)) expect(ms).toBeLessThan(5_000);
      expect(await redis.primaryPort()).toBe(redis.replica.port);
      expect(oldPrimary).not.toBe(redis.replica.port);
    } finally {
      inspect.disconnect();
    }
    const token = await deviceLogin(a, b, account);
    for (const r of [a, b]) expect((await me(r, token)).status).toBe(200);
    expect((await form(`${a.url}/openapi/v1/oauth/revoke`, { token })).status).toBe(200);
    expect(await refusedWithin(b, token)).toBeLessThan(1_000);
  }, 180_000);
});
