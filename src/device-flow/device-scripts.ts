import type { MemoryKV, StoreScript } from '../storage/store/index.ts';

/**
 * The device-code state machine (RFC 8628), as atomic store scripts. A record lives
 * at `df:{<sha256(device_code)>}:rec` (JSON, TTL = code lifetime + grace); after a
 * successful collection it is replaced by `df:{…}:used` → `{token_id, at}`, so a
 * replay can be recognised (and, after the grace window, its token revoked). Both
 * keys share one hash tag. Decisions are also written through to Postgres
 * (`device_grants`, see device-grants.ts), which is the fallback when the store has
 * lost a record and the arbiter of collection.
 *
 * PENDING → APPROVED | DENIED; APPROVED → COLLECTING (a short lease while one poller
 * mints the token) → deleted on success, or back to APPROVED on failure / lease expiry.
 */
export interface DeviceRecord {
  client_id: string;
  scope: string;
  device_label: string;
  user_code: string;
  status: 'pending' | 'approved' | 'denied' | 'collecting';
  interval: number;
  /** 0 until the first poll. */
  last_poll_ms: number;
  expires_at_ms: number;
  account_id: string;
  email: string;
  lease_until_ms: number;
}

export type PollResult =
  | { r: 'pending' | 'invalid' | 'expired' | 'denied' }
  | { r: 'slow_down'; interval: number }
  /** `in_grace`: collected less than the grace window ago (a racing or retried poll, not a replay to punish). */
  | { r: 'replay'; token_id: string; in_grace: boolean }
  | { r: 'approved'; account_id: string; email: string; device_label: string; scope: string; expires_at_ms: number };

const LUA_NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** ARGV: status ('approved' | 'denied'), account_id, email → 'ok' | 'not_found' | 'conflict'. */
export const resolveScript: StoreScript<'ok' | 'not_found' | 'conflict'> = {
  name: 'device_resolve_v1',
  lua: `${LUA_NOW}
local raw = redis.call('GET', KEYS[1])
if not raw then return cjson.encode('not_found') end
local rec = cjson.decode(raw)
if now >= rec.expires_at_ms then return cjson.encode('not_found') end
if rec.status ~= 'pending' then return cjson.encode('conflict') end
rec.status = ARGV[1]
rec.account_id = ARGV[2]
rec.email = ARGV[3]
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return cjson.encode('ok')`,
  memory(kv, keys, args, now) {
    const rec = readRecord(kv, keys[0]!);
    if (!rec || now >= rec.expires_at_ms) return 'not_found';
    if (rec.status !== 'pending') return 'conflict';
    keepTtlSet(kv, keys[0]!, { ...rec, status: args[0] as DeviceRecord['status'], account_id: args[1]!, email: args[2]! });
    return 'ok';
  },
};

/** What `df:{…}:used` holds: the token a code produced and when (store time, ms). */
interface UsedMarker {
  token_id: string;
  at: number;
}

/**
 * One poll (RFC 8628 §3.4–3.5): client check, expiry, status, slow_down bookkeeping,
 * and the COLLECTING lease — all atomic, so concurrent pollers on any replicas get the
 * approval once. ARGV: client_id, lease_ms, replay_grace_ms.
 */
export const pollScript: StoreScript<PollResult> = {
  name: 'device_poll_v2',
  lua: `${LUA_NOW}
local raw = redis.call('GET', KEYS[1])
if not raw then
  local used = redis.call('GET', KEYS[2])
  if used then
    -- A marker from before the grace window is a bare token id: treat it as long collected.
    local ok, u = pcall(cjson.decode, used)
    if not ok or type(u) ~= 'table' then u = {token_id = used, at = 0} end
    return cjson.encode({r = 'replay', token_id = u.token_id, in_grace = (now - u.at) < tonumber(ARGV[3])})
  end
  return cjson.encode({r = 'invalid'})
end
local rec = cjson.decode(raw)
if rec.client_id ~= ARGV[1] then return cjson.encode({r = 'invalid'}) end
if now >= rec.expires_at_ms then return cjson.encode({r = 'expired'}) end
if rec.status == 'denied' then return cjson.encode({r = 'denied'}) end
if rec.status == 'approved' or (rec.status == 'collecting' and now >= rec.lease_until_ms) then
  rec.status = 'collecting'
  rec.lease_until_ms = now + tonumber(ARGV[2])
  redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
  return cjson.encode({r = 'approved', account_id = rec.account_id, email = rec.email, device_label = rec.device_label, scope = rec.scope, expires_at_ms = rec.expires_at_ms})
end
if rec.status == 'collecting' then return cjson.encode({r = 'pending'}) end
local early = rec.last_poll_ms > 0 and (now - rec.last_poll_ms) < rec.interval * 1000
rec.last_poll_ms = now
if early then rec.interval = rec.interval + 5 end
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
if early then return cjson.encode({r = 'slow_down', interval = rec.interval}) end
return cjson.encode({r = 'pending'})`,
  memory(kv, keys, args, now) {
    const rec = readRecord(kv, keys[0]!);
    if (!rec) {
      const raw = kv.get<string>(keys[1]!);
      if (!raw) return { r: 'invalid' };
      const used = parseUsed(raw);
      return { r: 'replay', token_id: used.token_id, in_grace: now - used.at < Number(args[2]) };
    }
    if (rec.client_id !== args[0]) return { r: 'invalid' };
    if (now >= rec.expires_at_ms) return { r: 'expired' };
    if (rec.status === 'denied') return { r: 'denied' };
    if (rec.status === 'approved' || (rec.status === 'collecting' && now >= rec.lease_until_ms)) {
      keepTtlSet(kv, keys[0]!, { ...rec, status: 'collecting', lease_until_ms: now + Number(args[1]) });
      return { r: 'approved', account_id: rec.account_id, email: rec.email, device_label: rec.device_label, scope: rec.scope, expires_at_ms: rec.expires_at_ms };
    }
    if (rec.status === 'collecting') return { r: 'pending' };
    const early = rec.last_poll_ms > 0 && now - rec.last_poll_ms < rec.interval * 1000;
    const next = { ...rec, last_poll_ms: now, interval: early ? rec.interval + 5 : rec.interval };
    keepTtlSet(kv, keys[0]!, next);
    return early ? { r: 'slow_down', interval: next.interval } : { r: 'pending' };
  },
};

/**
 * After a successful mint: the record goes, the replay marker stays, stamped with the
 * store's clock so every replica measures the grace window alike. ARGV: token_id,
 * ttl_ms, collected_at_ms (0 = now).
 */
export const finishScript: StoreScript<number> = {
  name: 'device_finish_v2',
  lua: `${LUA_NOW}
local at = tonumber(ARGV[3])
if at == 0 then at = now end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], cjson.encode({token_id = ARGV[1], at = at}), 'PX', tonumber(ARGV[2]))
return cjson.encode(1)`,
  memory(kv, keys, args, now) {
    kv.del(keys[0]!);
    const marker: UsedMarker = { token_id: args[0]!, at: Number(args[2]) || now };
    kv.set(keys[1]!, JSON.stringify(marker), Number(args[1]));
    return 1;
  },
};

/** The decision could not be made durable: back to pending (only if it is still ours). ARGV: status, account_id. */
export const unresolveScript: StoreScript<number> = {
  name: 'device_unresolve_v1',
  lua: `local raw = redis.call('GET', KEYS[1])
if not raw then return cjson.encode(0) end
local rec = cjson.decode(raw)
if rec.status ~= ARGV[1] or rec.account_id ~= ARGV[2] then return cjson.encode(0) end
rec.status = 'pending'
rec.account_id = ''
rec.email = ''
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return cjson.encode(1)`,
  memory(kv, keys, args) {
    const rec = readRecord(kv, keys[0]!);
    if (!rec || rec.status !== args[0] || rec.account_id !== args[1]) return 0;
    keepTtlSet(kv, keys[0]!, { ...rec, status: 'pending', account_id: '', email: '' });
    return 1;
  },
};

/** Minting failed: give the approval back so the next poll retries. */
export const releaseScript: StoreScript<number> = {
  name: 'device_release_v1',
  lua: `local raw = redis.call('GET', KEYS[1])
if not raw then return cjson.encode(0) end
local rec = cjson.decode(raw)
if rec.status ~= 'collecting' then return cjson.encode(0) end
rec.status = 'approved'
rec.lease_until_ms = 0
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return cjson.encode(1)`,
  memory(kv, keys) {
    const rec = readRecord(kv, keys[0]!);
    if (!rec || rec.status !== 'collecting') return 0;
    keepTtlSet(kv, keys[0]!, { ...rec, status: 'approved', lease_until_ms: 0 });
    return 1;
  },
};

function parseUsed(raw: string): UsedMarker {
  try {
    const u = JSON.parse(raw) as unknown;
    if (u && typeof u === 'object') return u as UsedMarker;
  } catch {
    /* a bare token id, as markers were before the grace window */
  }
  return { token_id: raw, at: 0 };
}

// The memory twins keep records as JSON strings, exactly as Redis does, so that
// plain get/set on the same keys (DeviceFlowService.find) see what the scripts wrote.
function readRecord(kv: MemoryKV, key: string): DeviceRecord | undefined {
  const raw = kv.get<string>(key);
  return typeof raw === 'string' ? (JSON.parse(raw) as DeviceRecord) : undefined;
}

function keepTtlSet(kv: MemoryKV, key: string, value: DeviceRecord): void {
  const ttl = kv.pttl(key);
  kv.set(key, JSON.stringify(value), ttl > 0 ? ttl : undefined);
}

export const recordKey = (hash: string) => `df:{${hash}}:rec`;
export const usedKey = (hash: string) => `df:{${hash}}:used`;
export const userCodeKey = (code: string) => `df:uc:{${code}}`;
