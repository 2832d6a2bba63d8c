import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { slotError } from './hash-tag.ts';
import { releaseLockScript, type MemoryKV, type Store, type StoreScript } from './store.ts';

interface Entry {
  value: unknown;
  expiresAt: number | null;
}

class Kv implements MemoryKV {
  readonly map = new Map<string, Entry>();

  private live(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (e && e.expiresAt !== null && e.expiresAt <= Date.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }
  get<T>(key: string): T | undefined {
    return this.live(key)?.value as T | undefined;
  }
  set(key: string, value: unknown, ttlMs?: number): void {
    this.map.set(key, { value, expiresAt: ttlMs === undefined ? null : Date.now() + Math.max(1, ttlMs) });
  }
  del(key: string): boolean {
    return this.live(key) !== undefined && this.map.delete(key);
  }
  pttl(key: string): number {
    const e = this.live(key);
    if (!e) return -2;
    return e.expiresAt === null ? -1 : Math.max(0, e.expiresAt - Date.now());
  }
  expire(key: string, ttlMs: number): void {
    const e = this.live(key);
    if (e) e.expiresAt = Date.now() + Math.max(1, ttlMs);
  }
  sweep(): void {
    for (const key of this.map.keys()) this.live(key);
  }
}

/** In-process store: correct for exactly one replica. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly deployment = 'in_process' as const;
  private readonly kv = new Kv();
  private readonly bus = new EventEmitter().setMaxListeners(0);
  private readonly sweeper = setInterval(() => this.kv.sweep(), 30_000).unref();

  async run<R>(script: StoreScript<R>, keys: string[], args: (string | number)[] = []): Promise<R> {
    // The rule a cluster imposes holds here too, so a test on one replica catches a script that breaks it.
    const wrong = slotError(script.name, keys);
    if (wrong) throw wrong;
    const result = script.memory(this.kv, keys, args.map(String), Date.now());
    // Same isolation as Redis: the caller gets a copy, never a live reference.
    return structuredClone(result);
  }
  async get(key: string): Promise<string | null> {
    const v = this.kv.get(key);
    return typeof v === 'string' ? v : null;
  }
  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.kv.set(key, value, ttlMs);
  }
  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.kv.pttl(key) !== -2) return false;
    this.kv.set(key, value, ttlMs);
    return true;
  }
  async del(...keys: string[]): Promise<number> {
    return keys.filter((k) => this.kv.del(k)).length;
  }
  async pttl(key: string): Promise<number> {
    return this.kv.pttl(key);
  }
  async publish(channel: string, message: string): Promise<void> {
    // Asynchronous like Redis delivery, so publishers never re-enter subscribers.
    queueMicrotask(() => this.bus.emit(channel, message));
  }
  async subscribe(channel: string, handler: (message: string) => void, onLive?: (live: boolean) => void): Promise<() => Promise<void>> {
    this.bus.on(channel, handler);
    // In one process nothing can be missed: live from the start, for good.
    onLive?.(true);
    return async () => {
      this.bus.off(channel, handler);
    };
  }
  async withLock<T>(name: string, ttlMs: number, fn: () => Promise<T>): Promise<T | null> {
    const key = `lock:{${name}}`;
    const owner = randomUUID();
    if (!(await this.setIfAbsent(key, owner, ttlMs))) return null;
    try {
      return await fn();
    } finally {
      await this.run(releaseLockScript, [key], [owner]);
    }
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.bus.removeAllListeners();
  }
}
