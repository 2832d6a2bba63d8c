import type { Logger } from 'pino';
import type { TokenRepo, TokenRow } from '../storage/repos/tokens.ts';

/**
 * Keeps `last_used_at` without touching the request path: requests only mark a
 * token; a timer writes marks in batches, at most once per token per minute.
 */
export class LastUsedTracker {
  private readonly pending = new Map<string, TokenRow['source']>();
  private readonly written = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly repo: TokenRepo,
    private readonly log: Logger,
    private readonly everyMs = 60_000,
    flushMs = 5_000,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs).unref();
  }

  mark(source: TokenRow['source'], id: string): void {
    const last = this.written.get(id);
    if (last !== undefined && Date.now() - last < this.everyMs) return;
    this.pending.set(id, source);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    const now = Date.now();
    for (const [id] of batch) this.written.set(id, now);
    for (const [id, t] of this.written) if (now - t >= this.everyMs) this.written.delete(id);
    try {
      await this.repo.touch('oauth', batch.filter(([, s]) => s === 'oauth').map(([id]) => id));
      await this.repo.touch('api_key', batch.filter(([, s]) => s === 'api_key').map(([id]) => id));
    } catch (err) {
      this.log.warn({ err }, 'last_used_at update failed; will retry on next use');
      for (const [id] of batch) this.written.delete(id);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
