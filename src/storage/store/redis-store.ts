import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { slotError } from './hash-tag.ts';
import { clientSpan, recording } from '../../observability/spans.ts';
import { singleRedis, type RedisTopology } from './redis-topology.ts';
import { releaseLockScript, StoreUnavailableError, type Store, type StoreDeployment, type StoreScript } from './store.ts';

/** Wait before a new subscriber connection replaces one that ended (a cluster node gone). */
const RELINK_MS = 100;

/** Redis over one, Sentinel or Cluster deployment (redis-topology.ts); nothing here depends on which. */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly deployment: StoreDeployment;
  private readonly client: RedisTopology['commands'];
  private subscriber: Redis | null = null;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private readonly liveListeners = new Set<(live: boolean) => void>();
  /** True while the subscriber connection is up and every channel is subscribed. */
  private live = false;
  private closed = false;
  /** Settles at the subscriber's first connect or first failure: start-up waits for no more. */
  private firstOutcome: Promise<void> | null = null;
  private readonly shas = new Map<string, string>();

  private constructor(private readonly topology: RedisTopology) {
    this.deployment = topology.deployment;
    this.client = topology.commands;
    this.client.on('error', () => {
      /* surfaced per command as StoreUnavailableError; ioredis keeps reconnecting */
    });
  }

  /** Connects once; a deployment that is down at start is tolerated and retried. */
  static async open(topology: RedisTopology): Promise<RedisStore> {
    const store = new RedisStore(topology);
    await store.client.connect().catch(() => undefined);
    return store;
  }

  /** One Redis at `url`. */
  static connect(url: string): Promise<RedisStore> {
    return RedisStore.open(singleRedis(url));
  }

  /** One command; a child span of the request's (when traced) named by the command, never its keys or values. */
  private call<T>(command: string, fn: () => Promise<T>): Promise<T> {
    const send = async () => {
      try {
        return await fn();
      } catch (err) {
        throw failure(err);
      }
    };
    return recording() ? clientSpan(command, { 'db.system.name': 'redis', 'db.operation.name': command }, send) : send();
  }

  /** One round trip on the hot path: plain promise callbacks, no async wrappers (docs/performance.md). */
  run<R>(script: StoreScript<R>, keys: string[], args: (string | number)[] = []): Promise<R> {
    if (!recording()) return this.script(script, keys, args);
    const attributes = { 'db.system.name': 'redis', 'db.operation.name': 'EVALSHA', 'db.stored_procedure.name': script.name };
    return clientSpan(`EVALSHA ${script.name}`, attributes, () => this.script(script, keys, args));
  }

  private script<R>(script: StoreScript<R>, keys: string[], args: (string | number)[]): Promise<R> {
    const wrong = slotError(script.name, keys);
    if (wrong) return Promise.reject(wrong);
    let sha = this.shas.get(script.name);
    if (!sha) {
      sha = createHash('sha1').update(script.lua).digest('hex');
      this.shas.set(script.name, sha);
    }
    const decode = script.reply === 'flat' ? (raw: unknown) => raw as R : (raw: unknown) => JSON.parse(String(raw)) as R;
    return this.client.evalsha(sha, keys.length, ...keys, ...args).then(decode, (err: unknown) => {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw failure(err);
      // First use on this node (or after a restart or a failover): EVAL runs it on the node
      // that owns the keys and caches it there; later calls run by hash again.
      return this.call('EVAL', () => this.client.eval(script.lua, keys.length, ...keys, ...args)).then(decode);
    });
  }
  async get(key: string): Promise<string | null> {
    return this.call('GET', () => this.client.get(key));
  }
  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.call('SET', () => (ttlMs === undefined ? this.client.set(key, value) : this.client.set(key, value, 'PX', Math.max(1, ttlMs))));
  }
  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.call('SET', () => this.client.set(key, value, 'PX', Math.max(1, ttlMs), 'NX'))) === 'OK';
  }
  async del(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    // One DEL per key: keys of different slots never meet in one command.
    let n = 0;
    for (const key of keys) n += await this.call('DEL', () => this.client.del(key));
    return n;
  }
  async pttl(key: string): Promise<number> {
    return this.call('PTTL', () => this.client.pttl(key));
  }
  async publish(channel: string, message: string): Promise<void> {
    await this.call('PUBLISH', () => this.client.publish(channel, message));
  }
  async subscribe(channel: string, handler: (message: string) => void, onLive?: (live: boolean) => void): Promise<() => Promise<void>> {
    if (!this.subscriber) this.link();
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    if (onLive) this.liveListeners.add(onLive);
    const sub = this.subscriber;
    if (sub?.status === 'ready') {
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
        const current = this.subscriber;
        if (current?.status === 'ready') await current.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /**
   * One connection carries every subscription. ioredis's own resubscription is off: we
   * resubscribe on every `ready` and only then report the subscription live, so a
   * subscriber never believes it hears invalidations while it cannot. A connection that
   * ends for good (a cluster node gone) is replaced by one to another node.
   */
  private link(): void {
    const sub = this.topology.subscriber();
    this.subscriber = sub;
    let settle: () => void = () => undefined;
    const outcome = new Promise<void>((resolve) => (settle = resolve));
    this.firstOutcome ??= outcome;
    sub.on('error', () => undefined);
    sub.on('message', (ch: string, msg: string) => {
      for (const h of this.handlers.get(ch) ?? []) h(msg);
    });
    sub.on('ready', () => void this.resubscribe(sub).finally(settle));
    sub.on('close', () => {
      settle();
      if (this.subscriber === sub) this.setLive(false);
    });
    sub.once('end', () => {
      settle();
      if (this.subscriber !== sub || this.closed) return;
      this.subscriber = null;
      setTimeout(() => {
        if (!this.subscriber && !this.closed) this.link();
      }, RELINK_MS).unref();
    });
    sub.connect().catch(() => undefined);
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
      if (sub.status === 'ready' && this.subscriber === sub) this.setLive(true);
    } catch {
      // The connection dropped again; the next `ready` (or the next connection) retries.
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
    await this.call('PING', () => this.client.ping());
  }
  async close(): Promise<void> {
    this.closed = true;
    this.liveListeners.clear();
    this.client.disconnect();
    this.subscriber?.disconnect();
  }
}

/**
 * Replies that mean "not now" rather than "wrong": a replica that was a primary a moment ago
 * (READONLY), a node loading its data or cut off from its primary, a cluster that is
 * re-electing (CLUSTERDOWN, TRYAGAIN, MOVED/ASK past the client's redirections), a script
 * still running (BUSY), a full or failing disk (OOM, MISCONF).
 */
const TRANSIENT_REPLIES = /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|MOVED|ASK|BUSY|NOREPLICAS|OOM|MISCONF)\b/;

/** A reply error is a bug in a script or a key, unless it is transient; anything else means Redis is unavailable. */
function failure(err: unknown): Error {
  if (err instanceof Error && err.name === 'ReplyError' && !TRANSIENT_REPLIES.test(err.message)) return err;
  return new StoreUnavailableError(err);
}
