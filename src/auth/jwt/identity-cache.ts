/**
 * Verified JWT identities by token hash, per replica, each until its own deadline (the
 * token's expiry, capped by the key cache's max age). Separate from the opaque tokens'
 * identity cache for two reasons: a gateway that signs a fresh JWT per request fills it
 * with entries used once, and they must not push opaque identities out; and nothing is
 * ever published for a JWT (Tessera cannot revoke one), so it needs no subscription.
 */
export class JwtIdentityCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly maxEntries = 20_000) {}

  get(hash: string): V | undefined {
    const e = this.entries.get(hash);
    if (!e) return undefined;
    if (e.until <= Date.now()) {
      this.entries.delete(hash);
      return undefined;
    }
    return e.value;
  }

  set(hash: string, value: V, until: number): void {
    if (until <= Date.now()) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(hash)) {
      // Map keeps insertion order: drop the oldest.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(hash, { value, until });
  }

  delete(hash: string): void {
    this.entries.delete(hash);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
