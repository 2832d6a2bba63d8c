import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/storage/store/index.ts';
import { topologyFor } from '../../src/storage/store/redis-topology.ts';
import { failoverUnderLoad, reportFailover } from '../helpers/failover.ts';
import { until } from '../helpers/processes.ts';
import { RedisSentinels } from '../helpers/redis-sentinel-process.ts';
import { subscribersOf } from '../helpers/redis-topologies.ts';
import { describeReplicaPair, HANG_MS, loginAndRevokeAcross, startReplicaPair, type ReplicaPair } from '../helpers/replica-pair.ts';
import { describeStoreContract } from '../helpers/store-contract.ts';

// One Sentinel deployment for the whole file (a primary, a replica, three Sentinels with
// down-after-milliseconds 1000), two Tessera replicas in processes of their own on it and on
// the test database, and this worker's own app instance on it, which mints tokens. The last
// test kills the primary.
let redis: RedisSentinels;
let pair: ReplicaPair;

beforeAll(async () => {
  redis = await RedisSentinels.start();
  pair = await startReplicaPair(redis.deployment, redis.env);
}, 180_000);
afterAll(async () => {
  await pair?.close();
  await redis?.close();
});

describeStoreContract('RedisStore on Redis Sentinel', () => RedisStore.open(topologyFor(redis.deployment)));

describeReplicaPair('redis_sentinel', () => pair);

describe('the primary killed under load', () => {
  it('when the primary is SIGKILLed while both replicas serve, then every answer is correct or 503, both serve again within 5 s of the promotion, their subscriptions follow the new primary, and logins and revocations work afterwards', async () => {
    const [before] = await subscribersOf(pair.a.pid, [redis.primary.port]);
    expect(before?.channels).toBeGreaterThan(0);
    const inspect = new Redis({ sentinels: redis.deployment.sentinels.map((s) => ({ ...s })), name: redis.masterName });
    inspect.on('error', () => undefined);
    try {
      const report = await failoverUnderLoad([pair.a, pair.b], pair.fixture, {
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
    } finally {
      inspect.disconnect();
    }
    for (const r of [pair.a, pair.b]) {
      await until(async () => (await subscribersOf(r.pid, [redis.replica.port]))[0]?.channels === before!.channels, `replica ${r.name}'s subscriptions on the new primary`);
    }
    await loginAndRevokeAcross(pair);
  }, 180_000);
});
