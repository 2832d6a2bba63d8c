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
  // Reconnect attempts are cheap; a short cap keeps recovery well under 2 s after Redis returns.
  retryStrategy: (times: number) => Math.min(50 * times, 500),
};

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly client: Redis;
  private subscriber: Redis | null = null;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private readonly liveListeners = new Set<(live: boolean) => void>();
  /** True while the subscriber connection is up and every channel is subscribed. */
  private live = false;
  /** Settles at the subscriber's first connect or first failure: start-up waits for no more. */
  private firstOutcome: Promise<void> = Promise.resolve();
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
      throw failure(err);
    }
  }

  /** One round trip on the hot path: plain promise callbacks, no async wrappers (docs/performance.md). */
  run<R>(script: StoreScript<R>, keys: string[], args: (string | number)[] = []): Promise<R> {
    let sha = this.shas.get(script.name);
    if (!sha) {
      sha = createHash('sha1').update(script.lua).digest('hex');
      this.shas.set(script.name, sha);
    }
    const decode = script.reply === 'flat' ? (raw: unknown) => raw as R : (raw: unknown) => JSON.parse(String(raw)) as R;
    const exec = () => this.client.evalsha(sha, keys.length, ...keys, ...args);
    return exec().then(decode, (err: unknown) => {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw failure(err);
      // First use on this Redis (or after a restart): load once, then run by hash.
      return this.call(async () => {
        await this.client.script('LOAD', script.lua);
        return exec();
      }).then(decode);
    });
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
  async subscribe(channel: string, handler: (message: string) => void, onLive?: (live: boolean) => void): Promise<() => Promise<void>> {
    const sub = this.subscriberConnection();
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    if (onLive) this.liveListeners.add(onLive);
    if (sub.status === 'ready') {
      // Already connected: add this channel now (a resubscription in flight picks it up too).
      await sub.subscribe(channel).catch(() => undefined);
      if (this.live) onLive?.(true);
    } else {
      await this.firstOutcome;
    }
    return async () => {
      set.delete(handler);
      if (onLive) this.liveListeners.delete(onLive);
      if (set.size === 0) {
        this.handlers.delete(channel);
        // Never wait for a Redis that is down (shutdown must not hang on it).
        if (sub.status === 'ready') await sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /**
   * One connection carries every subscription. ioredis's own resubscription is off:
   * we resubscribe on every `ready` and only then report the subscription live, so
   * a subscriber never believes it hears invalidations while it cannot.
   */
  private subscriberConnection(): Redis {
    if (this.subscriber) return this.subscriber;
    const sub = new Redis(this.url, { ...options, autoResubscribe: false, maxRetriesPerRequest: null });
    this.subscriber = sub;
    let settle: () => void = () => undefined;
    this.firstOutcome = new Promise<void>((resolve) => (settle = resolve));
    sub.on('error', () => undefined);
    sub.on('message', (ch: string, msg: string) => {
      for (const h of this.handlers.get(ch) ?? []) h(msg);
    });
    sub.on('ready', () => void this.resubscribe(sub).finally(settle));
    sub.on('close', () => {
      settle();
      this.setLive(false);
    });
    sub.connect().catch(() => undefined);
    return sub;
  }

  private async resubscribe(sub: Redis): Promise<void> {
    try {
      // Channels added while a SUBSCRIBE was in flight are taken on the next turn.
      for (let done: string[] = []; ; ) {
        const todo = [...this.handlers.keys()].filter((c) => !done.includes(c));
        if (todo.length === 0) break;
        await sub.subscribe(...todo);
        done = [...done, ...todo];
      }
      if (sub.status === 'ready') this.setLive(true);
    } catch {
      // The connection dropped again; the next `ready` retries.
    }
  }

  private setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    for (const listener of this.liveListeners) listener(live);
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
    this.liveListeners.clear();
    this.client.disconnect();
    this.subscriber?.disconnect();
  }
}

/** A reply error is a bug in a script or a key, not an outage; anything else means Redis is unavailable. */
function failure(err: unknown): Error {
  if (err instanceof Error && err.name === 'ReplyError') return err;
  return new StoreUnavailableError(err);
}
