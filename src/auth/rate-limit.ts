import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { putHeader } from '../http/held-headers.ts';
import { jtiKey } from './dpop/policy.ts';
import { hashToken } from './token-kinds.ts';
import type { Store, StoreScript } from '../storage/store/index.ts';

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** ms until the oldest request in the window leaves it (a slot frees up). */
  resetMs: number;
  /** With a DPoP proof (`hitWithProof`): false when its `jti` was recorded before, a replay. */
  fresh?: boolean;
}

// Trim, count, admit-or-refuse, expire; then `allowed`, `count` and `reset` are known.
const WINDOW_LUA = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, now .. ':' .. ARGV[3])
  count = count + 1
  allowed = 1
end
redis.call('PEXPIRE', key, window)
local reset = window
if count > allowed then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  reset = tonumber(oldest[2]) + window - now
end`;

/**
 * Sliding-window log: one sorted set per key, scored by arrival time. Trim,
 * count, admit-or-refuse and expire happen in one script, so replicas never race.
 * Denied requests are not recorded, so a client that keeps retrying is let back
 * in as soon as the window slides.
 *
 * It runs on every API request, so it answers a flat array of integers
 * `[allowed, remaining, reset_ms]` (no cjson, no JSON.parse), and reads the oldest
 * entry only when the reset cannot be told otherwise: when the window holds just the
 * request admitted now, that entry is the oldest and the reset is the whole window.
 */
export const slidingWindowScript: StoreScript<[number, number, number]> = {
  name: 'sliding_window_v2',
  reply: 'flat',
  lua: `${WINDOW_LUA}
return {allowed, limit - count, reset}`,
  memory(kv, keys, args, now) {
    const key = keys[0]!;
    const limit = Number(args[0]);
    const window = Number(args[1]);
    const log = kv.get<number[]>(key) ?? [];
    // Entries are appended in time order: drop the expired prefix (binary search, one splice).
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (log[mid]! <= now - window) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) log.splice(0, lo);
    let allowed = 0;
    if (log.length < limit) {
      log.push(now);
      allowed = 1;
    }
    kv.set(key, log, window);
    const reset = log.length > 0 ? log[0]! + window - now : window;
    return [allowed, limit - log.length, reset];
  },
};

/**
 * The same window for a request that carries a DPoP proof (docs/tokens.md, "DPoP"), and in
 * the same round trip the proof's `jti`: an admitted request records it (`KEYS[2]`, one key
 * per proof, in the window's slot, kept `ARGV[4]` ms) and answers `fresh` 1, or 0 when it was
 * recorded before (a replay). A replayed proof spends a request of the window like any
 * request with that token, so a flood of replays is limited like any flood.
 */
export const slidingWindowProofScript: StoreScript<[number, number, number, number]> = {
  name: 'sliding_window_dpop_v1',
  reply: 'flat',
  lua: `${WINDOW_LUA}
local fresh = 0
if allowed == 1 and redis.call('SET', KEYS[2], '1', 'NX', 'PX', tonumber(ARGV[4])) then fresh = 1 end
return {allowed, limit - count, reset, fresh}`,
  memory(kv, keys, args, now) {
    const [allowed, remaining, reset] = slidingWindowScript.memory(kv, [keys[0]!], args, now);
    let fresh = 0;
    if (allowed === 1 && kv.pttl(keys[1]!) === -2) {
      kv.set(keys[1]!, '1', Number(args[3]));
      fresh = 1;
    }
    return [allowed, remaining, reset, fresh];
  },
};

export const WINDOW_MS = 60_000;

// Window members must be unique across replicas: a random per-process prefix plus a counter
// (cheaper than fresh random bytes on every request).
const INSTANCE = randomBytes(6).toString('base64url');
let sequence = 0;
const member = () => `${INSTANCE}${(sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER)}`;
const windowKey = (namespace: string, subject: string) => `rl:${namespace}:{${subject}}`;

export class RateLimiter {
  constructor(
    private readonly store: Store,
    private readonly limit: number,
    private readonly windowMs = WINDOW_MS,
  ) {}

  /** One store round trip. `subject` is already a hash; the hash tag keeps one token's keys in one slot. */
  hit(namespace: string, subject: string, limit = this.limit, windowMs = this.windowMs): Promise<RateLimitResult> {
    return this.store
      .run(slidingWindowScript, [windowKey(namespace, subject)], [limit, windowMs, member()])
      .then(([allowed, remaining, resetMs]) => ({ allowed: allowed === 1, limit, remaining: Math.max(0, remaining), resetMs: Math.max(1, resetMs) }));
  }

  /**
   * `hit` for a request with a DPoP proof, whose `jti` is recorded in the same script (one
   * round trip still): `fresh` is false when the proof was seen before. The jti's key shares
   * the window's hash tag (`dpop:jti:{<subject>}:…`).
   */
  hitWithProof(namespace: string, subject: string, jti: string, rememberMs: number): Promise<RateLimitResult> {
    const limit = this.limit;
    return this.store
      .run(slidingWindowProofScript, [windowKey(namespace, subject), jtiKey(subject, jti)], [limit, this.windowMs, member(), rememberMs])
      .then(([allowed, remaining, resetMs, fresh]) => ({ allowed: allowed === 1, limit, remaining: Math.max(0, remaining), resetMs: Math.max(1, resetMs), fresh: fresh === 1 }));
  }

  /** For keys that are not hashes yet (IP addresses, session ids, emails): the store only sees their SHA-256. */
  hitKey(namespace: string, key: string, limit = this.limit, windowMs = this.windowMs): Promise<RateLimitResult> {
    return this.hit(namespace, hashToken(key), limit, windowMs);
  }
}

/** Whole seconds until a reset, at least 1: `RateLimit-Reset` and `Retry-After`. */
export const resetSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

/** The three headers on a response that passed the limit, set directly (no intermediate object: every request does this). */
export function setRateLimitHeaders(res: ServerResponse, r: RateLimitResult): void {
  putHeader(res, 'RateLimit-Limit', String(r.limit));
  putHeader(res, 'RateLimit-Remaining', String(r.remaining));
  putHeader(res, 'RateLimit-Reset', resetSeconds(r.resetMs));
}

/** The same three headers as an object, for a refusal that carries them. */
export function rateLimitHeaders(r: RateLimitResult): Record<string, string> {
  return { 'RateLimit-Limit': String(r.limit), 'RateLimit-Remaining': String(r.remaining), 'RateLimit-Reset': resetSeconds(r.resetMs) };
}
