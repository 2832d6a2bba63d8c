import { clientKey } from '../../limits/client-key.ts';

/**
 * The bound on unverifiable JWT traffic from one client address, per replica and in
 * memory (docs/enterprise.md, "Bounding invalid JWTs"). The per-(iss, sub) rate limit
 * only counts verified tokens, so forged tokens cannot spend a subject's budget; this
 * counts the tokens that fail verification instead. Once an address has sent `limit`
 * invalid JWTs within a window, its *cold* JWTs (not in the identity cache) are refused
 * without decoding or verifying them until the window ends.
 *
 * Per replica on purpose: what it protects is this replica's CPU (signature checks) and
 * key fetches, and counting in the shared store would add a round trip to every garbage
 * request. A fixed window is enough for a CPU bound (at most twice the limit across a
 * window boundary).
 *
 * Addresses are counted by their limit key (an IPv6 client is its /64, see clientKey),
 * here rather than by the caller, so no caller can count full IPv6 addresses by mistake.
 */
export class InvalidTokenLimit {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly limit: number,
    private readonly windowMs: number,
    private readonly maxAddresses = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until this address may send cold JWTs again; 0 when it may now. */
  blockedFor(clientAddress: string | undefined): number {
    const address = clientKey(clientAddress);
    const w = this.windows.get(address);
    if (!w) return 0;
    const left = w.resetAt - this.now();
    if (left <= 0) {
      this.windows.delete(address);
      return 0;
    }
    return w.count >= this.limit ? left : 0;
  }

  /** Counts one invalid JWT; true when this one reached the limit (worth one log line). */
  record(clientAddress: string | undefined): boolean {
    const address = clientKey(clientAddress);
    const now = this.now();
    let w = this.windows.get(address);
    if (!w || w.resetAt <= now) {
      if (w) this.windows.delete(address);
      else if (this.windows.size >= this.maxAddresses) {
        // Map keeps insertion order: forget the address seen first.
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(address, w);
    }
    w.count++;
    return w.count === this.limit;
  }
}
