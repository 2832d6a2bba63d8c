/**
 * Shared state for replicas: atomic scripts, TTL keys, pub/sub and locks.
 * Two implementations pass one contract suite: Redis (one, Sentinel or Cluster; many
 * replicas) and in-process memory (one replica only).
 */

/** Where the shared state lives (what `/_health` reports): in this process, or one of the three Redis deployments. */
export type StoreDeployment = 'in_process' | 'redis' | 'redis_sentinel' | 'redis_cluster';

/** The in-process view a script's memory twin works on; values are plain JS data. */
export interface MemoryKV {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown, ttlMs?: number): void;
  del(key: string): boolean;
  /** Remaining time to live in ms, -1 without a TTL, -2 when absent (as Redis PTTL). */
  pttl(key: string): number;
  expire(key: string, ttlMs: number): void;
}

/**
 * An atomic operation with two equal implementations: Lua run by hash in Redis and a
 * synchronous function over the memory KV. Both must pass the same contract tests.
 *
 * Cluster-safe by construction: the Lua touches only keys passed in `KEYS` (never a key
 * built inside the script), and the keys of one call share a hash tag (both stores refuse
 * a call that breaks this, see hash-tag.ts). Every script is listed in src/store-scripts.ts,
 * with an example call, and the tests run each on a real cluster.
 */
export interface StoreScript<R> {
  readonly name: string;
  readonly lua: string;
  /**
   * How the Lua's answer reaches the caller. `json` (the default): the script returns a
   * string built with cjson.encode, which is parsed. `flat`: the script returns a flat
   * table of integers, which Redis sends as an array of integers and the caller gets
   * as is: no encoding in Lua, no JSON.parse here (the per-request rate limit).
   */
  readonly reply?: 'json' | 'flat';
  memory(kv: MemoryKV, keys: string[], args: string[], nowMs: number): R;
}

export interface Store {
  readonly kind: 'redis' | 'memory';
  /** Which deployment holds the state (reported by `/_health`). */
  readonly deployment: StoreDeployment;
  run<R>(script: StoreScript<R>, keys: string[], args?: (string | number)[]): Promise<R>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Set only when absent; true when set. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  del(...keys: string[]): Promise<number>;
  pttl(key: string): Promise<number>;
  publish(channel: string, message: string): Promise<void>;
  /**
   * Returns an unsubscribe function, without waiting for a store that is down.
   * Pub/sub delivers at most once: `onLive(false)` says the subscription is lost
   * and messages may be missed from now on; `onLive(true)` says it is (again)
   * confirmed, so a subscriber that keeps derived state (a cache) knows when to
   * stop trusting it and when to start afresh.
   */
  subscribe(channel: string, handler: (message: string) => void, onLive?: (live: boolean) => void): Promise<() => Promise<void>>;
  /** Runs fn while holding a named lock; null when another holder has it. */
  withLock<T>(name: string, ttlMs: number, fn: () => Promise<T>): Promise<T | null>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`store unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Lua that releases a lock only when we still own it. */
export const releaseLockScript: StoreScript<number> = {
  name: 'release_lock',
  lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return cjson.encode(redis.call('DEL', KEYS[1])) end return cjson.encode(0)`,
  memory(kv, keys, args) {
    const key = keys[0]!;
    if (kv.get(key) === args[0]) return kv.del(key) ? 1 : 0;
    return 0;
  },
};
