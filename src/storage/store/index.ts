import type { Logger } from 'pino';
import { MemoryStore } from './memory-store.ts';
import { RedisStore } from './redis-store.ts';
import { topologyFor, type RedisDeployment } from './redis-topology.ts';
import type { Store } from './store.ts';

export * from './store.ts';
export type { HostPort, RedisCredentials, RedisDeployment } from './redis-topology.ts';
export { MemoryStore, RedisStore };

/** The store the settings name: one Redis, Sentinel or Cluster, or (none set) the in-process store. */
export async function createStore(redis: RedisDeployment | null, log: Logger): Promise<Store> {
  if (redis) return RedisStore.open(topologyFor(redis));
  log.warn('no Redis is configured (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES): using the in-process store, which is correct for one replica only');
  return new MemoryStore();
}
