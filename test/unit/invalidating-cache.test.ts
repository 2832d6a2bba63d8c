import { describe, expect, it } from 'vitest';
import { InvalidatingCache } from '../../src/auth/invalidating-cache.ts';
import { createLogger } from '../../src/logger.ts';
import { MemoryStore } from '../../src/storage/store/index.ts';

const log = createLogger('silent');
const tick = () => new Promise((r) => setTimeout(r, 5));

/** The in-process store, with the two things an outage changes driven by the test: liveness and publishing. */
class OutageStore extends MemoryStore {
  liveness: ((live: boolean) => void) | undefined;
  failPublishes = 0;
  override subscribe(channel: string, handler: (m: string) => void, onLive?: (live: boolean) => void) {
    this.liveness = onLive;
    return super.subscribe(channel, handler, onLive);
  }
  override async publish(channel: string, message: string) {
    if (this.failPublishes > 0) {
      this.failPublishes--;
      throw new Error('store unavailable');
    }
    return super.publish(channel, message);
  }
}

async function cacheOn(store: OutageStore) {
  const cache = new InvalidatingCache<string>(store, log, 60_000, 'test:cache');
  await cache.start();
  return cache;
}

describe('invalidating cache', () => {
  it('when a value is loaded after a miss, then it is served until another replica invalidates it', async () => {
    const store = new OutageStore();
    const cache = await cacheOn(store);
    expect(cache.get('k')).toBeUndefined();
    cache.set('k', 'v');
    expect(cache.get('k')).toBe('v');
    await store.publish('test:cache', 'k');
    await tick();
    expect(cache.get('k')).toBeUndefined();
  });

  it('when an invalidation arrives while a load is in flight, then that load is not cached, even if a newer load started meanwhile', async () => {
    const store = new OutageStore();
    const cache = await cacheOn(store);
    expect(cache.get('k')).toBeUndefined(); // load 1 starts (reads the live row)
    await store.publish('test:cache', 'k'); // the row is revoked elsewhere
    await tick();
    expect(cache.get('k')).toBeUndefined(); // load 2 starts
    cache.set('k', 'stale'); // load 1 ends
    expect(cache.get('k')).toBeUndefined();
  });

  it('when the subscription is lost, then nothing is served or kept until it is live again, and then the cache starts empty', async () => {
    const store = new OutageStore();
    const cache = await cacheOn(store);
    cache.get('k');
    cache.set('k', 'v');
    cache.get('in-flight');
    store.liveness!(false);
    expect(cache.live).toBe(false);
    expect(cache.get('k')).toBeUndefined();
    cache.set('in-flight', 'loaded before the loss');
    cache.get('new');
    cache.set('new', 'v');
    store.liveness!(true);
    expect(cache.live).toBe(true);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.get('in-flight')).toBeUndefined();
    expect(cache.get('new')).toBeUndefined();
  });

  it('when an invalidation cannot be published, then it is dropped locally at once and published again until it goes out', async () => {
    const store = new OutageStore();
    const writer = await cacheOn(store);
    const reader = await cacheOn(store);
    reader.get('k');
    reader.set('k', 'v');
    store.failPublishes = 2;
    await writer.invalidate(['k']);
    expect(reader.get('k')).toBe('v');
    for (let i = 0; i < 100 && reader.get('k') !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(reader.get('k')).toBeUndefined();
    await writer.stop();
    await reader.stop();
  });
});
