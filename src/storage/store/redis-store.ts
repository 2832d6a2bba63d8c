import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { releaseLockScript, StoreUnavailableError, type Store, type StoreScript } from './store.ts';

const options = {
  lazyConnect: true,
  // Fail fast while Redis is down (503 instead of a hang); reconnect in the background.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  commandTimeout: 2_000,
  retryStrategy: (times: number) => Math.min(100 * times, 2_000),
};

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly client: Redis;
  private subscriber: Redis | null = null;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private readonly shas = new Map<string, string>();

  private constructor(private readonly url: string) {
    // Auto-pipelining batches the commands of concurrent requests into one write.
    this.client = new Redis(url, { ...options, enableAutoPipelining: true });
    this.client.on('error', () => {
      /* surfaced per command as StoreUnavailableError; ioredis keeps reconnecting */
    });
  }

  /** Connects once; a Redis that is down at start is tolerated and retried. */
  static async connect(url: string): Promise<RedisStore> {
    const store = new RedisStore(url);
    await store.client.connect().catch(() => undefined);
    return store;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // A reply error is a bug in a script or a key, not an outage.
      if (err instanceof Error && err.name === 'ReplyError') throw err;
      throw new StoreUnavailableError(err);
    }
  }

  async run<R>(script: StoreScript<R>, keys: string[], args: (string | number)[] = []): Promise<R> {
    let sha = this.shas.get(script.name);
    if (!sha) {
      sha = createHash('sha1').update(script.lua).digest('hex');
      this.shas.set(script.name, sha);
    }
    const exec = () => this.client.evalsha(sha!, keys.length, ...keys, ...args.map(String));
    const raw = await this.call(async () => {
      try {
        return await exec();
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        // First use on this Redis (or after a restart): load once, then run by hash.
        await this.client.script('LOAD', script.lua);
        return exec();
      }
    });
    return JSON.parse(String(raw)) as R;
  }
  async get(key: string): Promise<string | null> {
    return this.call(() => this.client.get(key));
  }
  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.call(() => (ttlMs === undefined ? this.client.set(key, value) : this.client.set(key, value, 'PX', Math.max(1, ttlMs))));
  }
  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.call(() => this.client.set(key, value, 'PX', Math.max(1, ttlMs), 'NX'))) === 'OK';
  }
  async del(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    // One DEL per key keeps this Redis Cluster-safe when keys live in different slots.
    let n = 0;
    for (const key of keys) n += await this.call(() => this.client.del(key));
    return n;
  }
  async pttl(key: string): Promise<number> {
    return this.call(() => this.client.pttl(key));
  }
  async publish(channel: string, message: string): Promise<void> {
    await this.call(() => this.client.publish(channel, message));
  }
  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    if (!this.subscriber) {
      // Subscribers queue while offline so subscriptions are restored after a reconnect.
      this.subscriber = new Redis(this.url, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
      this.subscriber.on('error', () => undefined);
      this.subscriber.on('message', (ch: string, msg: string) => {
        for (const h of this.handlers.get(ch) ?? []) h(msg);
      });
      await this.subscriber.connect().catch(() => undefined);
    }
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await this.subscriber.subscribe(channel);
    }
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0) {
        this.handlers.delete(channel);
        await this.subscriber?.unsubscribe(channel).catch(() => undefined);
      }
    };
  }
  async withLock<T>(name: string, ttlMs: number, fn: () => Promise<T>): Promise<T | null> {
    const key = `lock:{${name}}`;
    const owner = randomUUID();
    if (!(await this.setIfAbsent(key, owner, ttlMs))) return null;
    try {
      return await fn();
    } finally {
      await this.run(releaseLockScript, [key], [owner]).catch(() => undefined);
    }
  }
  async ping(): Promise<void> {
    await this.call(() => this.client.ping());
  }
  async close(): Promise<void> {
    this.client.disconnect();
    this.subscriber?.disconnect();
  }
}
