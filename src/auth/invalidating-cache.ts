import type { Logger } from 'pino';
import type { Store } from '../storage/store/index.ts';

export const INVALIDATE_CHANNEL = 'tessera:auth:invalidate';
export const APPS_CHANNEL = 'tessera:apps:invalidate';

interface Entry<V> {
  value: V;
  until: number;
}

/** Marks a key invalidated while a load for it was in flight: no load begun before now may cache it. */
const STALE = -1;
/** How often invalidations that could not be published are retried. */
const REPUBLISH_MS = 200;
const MAX_UNPUBLISHED = 10_000;

/**
 * Per-replica cache (of resolved identities keyed by token hash, or of apps). Revocation,
 * rotation and expiry publish the key; every replica drops it on receipt.
 *
 * Pub/sub delivers at most once, so the cache is only as good as its subscription:
 * while the subscription is down (Redis restarting, a dropped connection) the cache
 * answers nothing and keeps nothing, and it starts empty once the subscription is
 * confirmed again. A revocation made meanwhile on another replica is therefore seen
 * as soon as this replica can serve again. Two smaller gaps are closed too: a value
 * loaded before an invalidation (or a reset) is not cached after it, and an
 * invalidation that could not be published is published again until it goes out.
 */
export class InvalidatingCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** key → generation at the miss that started a load (or STALE); `set` refuses loads from an older generation. */
  private readonly loads = new Map<string, number>();
  private generation = 0;
  private trusted = false;
  private unsubscribe: (() => Promise<void>) | null = null;
  private readonly unpublished = new Set<string>();
  private republisher: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly ttlMs = 60_000,
    private readonly channel = INVALIDATE_CHANNEL,
    private readonly maxEntries = 50_000,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.store
      .subscribe(
        this.channel,
        (key) => this.drop(key),
        (live) => this.onLive(live),
      )
      .catch((err: unknown) => {
        this.log.warn({ err, channel: this.channel }, 'cache: could not subscribe to invalidations; caching stays off');
        return null;
      });
  }

  /** Whether entries are used: only while invalidations are known to arrive. */
  get live(): boolean {
    return this.trusted;
  }

  private onLive(live: boolean): void {
    if (live === this.trusted) return;
    this.trusted = live;
    this.reset();
    if (live) {
      this.log.info({ channel: this.channel }, 'cache: invalidations flow again; starting empty');
      // The link is back: what could not be published goes out now, not at the next retry tick.
      if (this.unpublished.size > 0) void this.republish();
    }
    else this.log.warn({ channel: this.channel }, 'cache: invalidation subscription lost; not caching until it is back');
  }

  private reset(): void {
    this.entries.clear();
    this.loads.clear();
    this.generation++;
  }

  private drop(key: string): void {
    this.entries.delete(key);
    if (this.loads.has(key)) this.loads.set(key, STALE);
  }

  get(key: string): V | undefined {
    if (!this.trusted) return undefined;
    const e = this.entries.get(key);
    if (e && e.until > Date.now()) return e.value;
    if (e) this.entries.delete(key);
    if (this.loads.get(key) !== STALE) {
      if (this.loads.size >= this.maxEntries) this.evictOldest(this.loads);
      this.loads.set(key, this.generation);
    }
    return undefined;
  }

  /** Caches a value loaded after a `get` miss, unless an invalidation or a reset came in between. */
  set(key: string, value: V): void {
    const startedIn = this.loads.get(key);
    this.loads.delete(key);
    if (!this.trusted || startedIn !== this.generation) return;
    if (this.entries.size >= this.maxEntries) this.evictOldest(this.entries);
    this.entries.set(key, { value, until: Date.now() + this.ttlMs });
  }

  /** Drops locally at once and tells every other replica (retrying until the message goes out). */
  async invalidate(keys: string[]): Promise<void> {
    for (const key of keys) {
      this.drop(key);
      await this.publish(key);
    }
  }

  private async publish(key: string): Promise<void> {
    try {
      await this.store.publish(this.channel, key);
      this.unpublished.delete(key);
    } catch (err) {
      if (!this.unpublished.has(key)) this.log.error({ err: String(err), channel: this.channel }, 'cache: invalidation not published; retrying');
      if (this.unpublished.size < MAX_UNPUBLISHED) this.unpublished.add(key);
      this.republisher ??= setInterval(() => void this.republish(), REPUBLISH_MS).unref();
    }
  }

  private async republish(): Promise<void> {
    for (const key of [...this.unpublished]) {
      try {
        await this.store.publish(this.channel, key);
        this.unpublished.delete(key);
      } catch {
        return;
      }
    }
    if (this.republisher) clearInterval(this.republisher);
    this.republisher = null;
  }

  clear(): void {
    this.reset();
  }

  async stop(): Promise<void> {
    if (this.republisher) clearInterval(this.republisher);
    this.republisher = null;
    this.trusted = false;
    await this.unsubscribe?.();
  }

  private evictOldest(map: Map<string, unknown>): void {
    // Maps keep insertion order: the first key is the oldest.
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}
