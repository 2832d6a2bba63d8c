import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { jtiKey } from '../../src/auth/dpop/policy.ts';
import { slidingWindowProofScript, slidingWindowScript } from '../../src/auth/rate-limit.ts';
import type { Store, StoreScript } from '../../src/storage/store/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A script that exercises get/set/TTL inside the atomic section. */
const counterScript: StoreScript<{ value: number; ttl: number }> = {
  name: 'test_counter',
  lua: `local v = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(v), 'PX', tonumber(ARGV[2]))
return cjson.encode({value = v, ttl = redis.call('PTTL', KEYS[1])})`,
  memory(kv, keys, args) {
    const v = Number(kv.get<string>(keys[0]!) ?? '0') + Number(args[0]);
    kv.set(keys[0]!, String(v), Number(args[1]));
    return { value: v, ttl: kv.pttl(keys[0]!) };
  },
};

/**
 * What every store must do, the in-process one and Redis in each deployment: the same
 * tests run against each (test/integration/store-contract.test.ts, redis-cluster.test.ts,
 * redis-sentinel.test.ts).
 */
export function describeStoreContract(title: string, make: () => Promise<Store>): void {
  describe(`store contract: ${title}`, () => {
    let store: Store;
    const k = (name: string) => `test:${randomUUID()}:{${name}}`;
    beforeAll(async () => {
      store = await make();
    });
    afterAll(() => store.close());

    it('when a key is set, then it can be read, and deleted once', async () => {
      const key = k('a');
      expect(await store.get(key)).toBeNull();
      await store.set(key, 'v1');
      expect(await store.get(key)).toBe('v1');
      expect(await store.pttl(key)).toBe(-1);
      expect(await store.del(key)).toBe(1);
      expect(await store.del(key)).toBe(0);
      expect(await store.pttl(key)).toBe(-2);
    });

    it('when a key has a TTL, then it expires', async () => {
      const key = k('ttl');
      await store.set(key, 'v', 80);
      const ttl = await store.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(80);
      await sleep(120);
      expect(await store.get(key)).toBeNull();
    });

    it('when setIfAbsent races, then exactly one wins', async () => {
      const key = k('nx');
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.setIfAbsent(key, String(i), 1_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('when a script runs concurrently, then every call sees an atomic update', async () => {
      const key = k('counter');
      const results = await Promise.all(Array.from({ length: 20 }, () => store.run(counterScript, [key], [1, 5_000])));
      expect(results.map((r) => r.value).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(results.every((r) => r.ttl > 0 && r.ttl <= 5_000)).toBe(true);
    });

    it('when the sliding window is full, then requests are refused until it slides', async () => {
      const key = k('rl');
      // A window long enough for four hits on a loaded machine; the wait below is the reset the script reports.
      const hit = () => store.run(slidingWindowScript, [key], [3, 2_000, randomUUID()]);
      expect((await hit())[0]).toBe(1);
      expect((await hit())[0]).toBe(1);
      const third = await hit();
      expect(third[0]).toBe(1);
      expect(third[1]).toBe(0);
      const refused = await hit();
      expect(refused[0]).toBe(0);
      expect(refused[2]).toBeGreaterThan(0);
      expect(refused[2]).toBeLessThanOrEqual(2_000);
      await sleep(refused[2] + 50);
      expect((await hit())[0]).toBe(1);
    });

    it('when the window holds only the request just admitted, then the reset is the whole window; with older entries, the time until the oldest leaves', async () => {
      const key = k('rl-reset');
      const hit = (limit: number) => store.run(slidingWindowScript, [key], [limit, 10_000, randomUUID()]);
      const first = await hit(5);
      // A flat array of integers, the same from both stores.
      expect(first).toEqual([1, 4, 10_000]);
      // Slept longer than asserted: timers and Redis's TIME both round to whole milliseconds.
      await sleep(50);
      const second = await hit(5);
      expect(second.slice(0, 2)).toEqual([1, 3]);
      expect(second[2]).toBeLessThanOrEqual(10_000 - 30);
      expect(second[2]).toBeGreaterThan(0);
      // Refused: nothing is added, and the reset is still the oldest entry's.
      const refused = await hit(2);
      expect(refused.slice(0, 2)).toEqual([0, 0]);
      expect(refused[2]).toBeLessThanOrEqual(second[2]);
    });

    it('when a request carries a DPoP proof, then its jti is recorded by the same script: fresh once, a replay after, and never when the window refuses', async () => {
      const tag = randomUUID();
      const window = `test:rl:{${tag}}`;
      const hit = (limit: number, jti: string) => store.run(slidingWindowProofScript, [window, jtiKey(tag, jti)], [limit, 10_000, randomUUID(), 5_000]);
      expect(await hit(3, 'a')).toEqual([1, 2, 10_000, 1]);
      // A replay is counted like any request, and answered as seen before.
      const replay = await hit(3, 'a');
      expect([replay[0], replay[1], replay[3]]).toEqual([1, 1, 0]);
      expect((await hit(3, 'b'))[3]).toBe(1);
      const refused = await hit(3, 'c');
      expect([refused[0], refused[1], refused[3]]).toEqual([0, 0, 0]);
      expect(await store.pttl(jtiKey(tag, 'c'))).toBe(-2);
      const kept = await store.pttl(jtiKey(tag, 'a'));
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThanOrEqual(5_000);
    });

    it('when a message is published, then subscribers get it, and not after unsubscribing', async () => {
      const channel = `test:${randomUUID()}`;
      const got: string[] = [];
      const unsubscribe = await store.subscribe(channel, (m) => got.push(m));
      await store.publish(channel, 'one');
      for (let i = 0; i < 500 && got.length === 0; i++) await sleep(10);
      expect(got).toEqual(['one']);
      await unsubscribe();
      await store.publish(channel, 'two');
      await sleep(50);
      expect(got).toEqual(['one']);
    });

    it('when a subscription is confirmed, then the subscriber is told it is live, and invalidation-style messages arrive', async () => {
      const channel = `test:${randomUUID()}`;
      const states: boolean[] = [];
      const got: string[] = [];
      const unsubscribe = await store.subscribe(channel, (m) => got.push(m), (live) => states.push(live));
      for (let i = 0; i < 100 && states.length === 0; i++) await sleep(10);
      expect(states).toEqual([true]);
      await store.publish(channel, 'hash-1');
      for (let i = 0; i < 50 && got.length === 0; i++) await sleep(10);
      expect(got).toEqual(['hash-1']);
      await unsubscribe();
    });

    it('when a lock is held, then a second holder is refused, and it is free after release', async () => {
      const name = `lock-${randomUUID()}`;
      let inner: string | null | undefined;
      const outer = await store.withLock(name, 5_000, async () => {
        inner = await store.withLock(name, 5_000, async () => 'second');
        return 'first';
      });
      expect(outer).toBe('first');
      expect(inner).toBeNull();
      expect(await store.withLock(name, 5_000, async () => 'again')).toBe('again');
    });

    it('when the holder throws, then the lock is still released', async () => {
      const name = `lock-${randomUUID()}`;
      await expect(store.withLock(name, 5_000, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(await store.withLock(name, 5_000, async () => 'free')).toBe('free');
    });
  });
}
