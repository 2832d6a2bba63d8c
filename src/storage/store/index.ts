import type { Logger } from 'pino';
import { MemoryStore } from './memory-store.ts';
import { RedisStore } from './redis-store.ts';
import type { Store } from './store.ts';

export * from './store.ts';
export { MemoryStore, RedisStore };

export async function createStore(redisUrl: string | null, log: Logger): Promise<Store> {
  if (redisUrl) return RedisStore.connect(redisUrl);
  log.warn('REDIS_URL is not set: using the in-process store, which is correct for one replica only');
  return new MemoryStore();
}
