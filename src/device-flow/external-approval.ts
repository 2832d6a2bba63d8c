import type { ExternalSubject } from '../auth/token-service.ts';
import type { StoreScript } from '../storage/store/index.ts';
import type { DeviceRecord } from './device-scripts.ts';

/**
 * The external-SSO branch's decision on a device code (docs/enterprise.md). The record is
 * resolved as in the account branch, with no account; who approved — the IdP's issuer,
 * `sub`, verified email and name — is kept beside it at `df:{<hash>}:ext` (same hash
 * tag, same remaining lifetime) for the poll that mints the tse_ token.
 *
 * KEYS: record, ext. ARGV: status ('approved' | 'denied'), email, subject JSON → 'ok' | 'not_found' | 'conflict'.
 */
export const resolveExternalScript: StoreScript<'ok' | 'not_found' | 'conflict'> = {
  name: 'device_resolve_external_v1',
  lua: `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local raw = redis.call('GET', KEYS[1])
if not raw then return cjson.encode('not_found') end
local rec = cjson.decode(raw)
if now >= rec.expires_at_ms then return cjson.encode('not_found') end
if rec.status ~= 'pending' then return cjson.encode('conflict') end
rec.status = ARGV[1]
rec.account_id = ''
rec.email = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl) end
return cjson.encode('ok')`,
  memory(kv, keys, args, now) {
    const raw = kv.get<string>(keys[0]!);
    if (typeof raw !== 'string') return 'not_found';
    const rec = JSON.parse(raw) as DeviceRecord;
    if (now >= rec.expires_at_ms) return 'not_found';
    if (rec.status !== 'pending') return 'conflict';
    const ttl = kv.pttl(keys[0]!);
    const next: DeviceRecord = { ...rec, status: args[0] as DeviceRecord['status'], account_id: '', email: args[1]! };
    kv.set(keys[0]!, JSON.stringify(next), ttl > 0 ? ttl : undefined);
    if (ttl > 0) kv.set(keys[1]!, args[2]!, ttl);
    return 'ok';
  },
};

export const externalKey = (hash: string) => `df:{${hash}}:ext`;

export function encodeSubject(s: ExternalSubject): string {
  return JSON.stringify({ issuer: s.issuer, sub: s.sub, email: s.email, name: s.name, sid: s.sid ?? null });
}

export function decodeSubject(raw: string | null): ExternalSubject | null {
  if (!raw) return null;
  const s = JSON.parse(raw) as ExternalSubject;
  return typeof s.issuer === 'string' && typeof s.sub === 'string' && typeof s.email === 'string' ? s : null;
}
