import type { Logger } from 'pino';
import type { Store } from '../storage/store/index.ts';

export const INVALIDATE_CHANNEL = 'tessera:auth:invalidate';
export const APPS_CHANNEL = 'tessera:apps:invalidate';

interface Entry<V> {
  value: V;
  until: number;
}

/**
 * Per-replica cache (of resolved identities keyed by token hash, or of apps). Revocation,
 * rotation and expiry publish the hash; every replica drops it on receipt. The
 * TTL bounds staleness if a message is ever missed (e.g. while Redis is down).
 */
export class InvalidatingCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly ttlMs = 60_000,
    private readonly channel = INVALIDATE_CHANNEL,
    private readonly maxEntries = 50_000,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.store
      .subscribe(this.channel, (hash) => this.entries.delete(hash))
      .catch((err: unknown) => {
        this.log.warn({ err }, 'identity cache: could not subscribe to invalidations; relying on TTL');
        return null;
      });
  }

  get(hash: string): V | undefined {
    const e = this.entries.get(hash);
    if (!e) return undefined;
    if (e.until <= Date.now()) {
      this.entries.delete(hash);
      return undefined;
    }
    return e.value;
  }

  set(hash: string, value: V): void {
    if (this.entries.size >= this.maxEntries) {
      // Map keeps insertion order: drop the oldest.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(hash, { value, until: Date.now() + this.ttlMs });
  }

  /** Drops locally at once and tells every other replica. */
  async invalidate(hashes: string[]): Promise<void> {
    for (const h of hashes) {
      this.entries.delete(h);
      await this.store.publish(this.channel, h).catch((err: unknown) => {
        this.log.error({ err }, 'identity cache: invalidation not published; other replicas rely on TTL');
      });
    }
  }

  clear(): void {
    this.entries.clear();
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }
}
