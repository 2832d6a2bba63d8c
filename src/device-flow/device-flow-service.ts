import { createHash, randomBytes } from 'node:crypto';
import { RateLimiter } from '../auth/rate-limit.ts';
import { perServices, type Services } from '../services.ts';
import {
  finishScript,
  pollScript,
  recordKey,
  releaseScript,
  resolveScript,
  usedKey,
  userCodeKey,
  type DeviceRecord,
  type PollResult,
} from './device-scripts.ts';
import type { ExternalSubject } from '../auth/token-service.ts';
import { decodeSubject, encodeSubject, externalKey, resolveExternalScript } from './external-approval.ts';
import { formatUserCode, generateUserCode, normalizeUserCode } from './user-code.ts';

export { formatUserCode, normalizeUserCode };

/** Records outlive their code a little so a late poll hears `expired_token`, not `invalid_grant`. */
const GRACE_MS = 10 * 60_000;
/** How long one poller may hold an approval while it mints the token. */
const LEASE_MS = 15_000;

export interface DeviceLookup {
  valid: boolean;
  client_id?: string;
  device_label?: string;
  expires_in_remaining?: number;
  user_code?: string;
}

export interface StartedFlow {
  deviceCode: string;
  userCode: string;
  expiresIn: number;
  interval: number;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** RFC 8628 device flow over the store: issuance, lookup, approve/deny, poll. */
export class DeviceFlowService {
  private readonly limiter: RateLimiter;

  constructor(private readonly s: Services) {
    this.limiter = new RateLimiter(s.store, 60);
  }

  async start(clientId: string, scope: string, deviceLabel: string): Promise<StartedFlow> {
    const ttlMs = this.s.config.deviceCodeTtlSeconds * 1000;
    const deviceCode = randomBytes(32).toString('base64url');
    const hash = sha256(deviceCode);
    let userCode = '';
    for (let attempt = 0; ; attempt++) {
      userCode = generateUserCode();
      // Unique among live codes: reserve the user code before anything points at it.
      if (await this.s.store.setIfAbsent(userCodeKey(userCode), hash, ttlMs + GRACE_MS)) break;
      if (attempt >= 5) throw new Error('could not allocate a unique user code');
    }
    const record: DeviceRecord = {
      client_id: clientId,
      scope,
      device_label: deviceLabel,
      user_code: userCode,
      status: 'pending',
      interval: this.s.config.devicePollIntervalSeconds,
      last_poll_ms: 0,
      expires_at_ms: Date.now() + ttlMs,
      account_id: '',
      email: '',
      lease_until_ms: 0,
    };
    await this.s.store.set(recordKey(hash), JSON.stringify(record), ttlMs + GRACE_MS);
    return { deviceCode, userCode: formatUserCode(userCode), expiresIn: this.s.config.deviceCodeTtlSeconds, interval: record.interval };
  }

  /** A live, still pending code by its user code: its device-code hash and record. */
  async findPending(userCode: string): Promise<{ hash: string; rec: DeviceRecord } | null> {
    const found = await this.find(userCode);
    return found && found.rec.status === 'pending' && found.rec.expires_at_ms > Date.now() ? found : null;
  }

  /** A live code's record by device-code hash, whatever its status (an approval grant names the code it was issued for). */
  async findByHash(hash: string): Promise<DeviceRecord | null> {
    const raw = await this.s.store.get(recordKey(hash));
    const rec = raw ? (JSON.parse(raw) as DeviceRecord) : null;
    return rec && rec.expires_at_ms > Date.now() ? rec : null;
  }

  /** The same, only while it is still pending. */
  async findPendingByHash(hash: string): Promise<DeviceRecord | null> {
    const rec = await this.findByHash(hash);
    return rec?.status === 'pending' ? rec : null;
  }

  /** The external-SSO branch's approve or deny, for the code a grant was issued for. */
  async resolveExternal(hash: string, rec: DeviceRecord, subject: ExternalSubject, status: 'approved' | 'denied') {
    const result = await this.s.store.run(resolveExternalScript, [recordKey(hash), externalKey(hash)], [status, subject.email, encodeSubject(subject)]);
    if (result === 'ok') {
      this.s.audit(status === 'approved' ? 'oauth.device_flow_approved' : 'oauth.device_flow_denied', {
        branch: 'sso',
        subject: subject.sub,
        subject_email: subject.email,
        subject_issuer: subject.issuer,
        client_id: rec.client_id,
        device_label: rec.device_label,
      });
    }
    return result;
  }

  /** Who approved a device code in the external-SSO branch; null for an account approval. */
  async externalSubject(deviceCode: string): Promise<ExternalSubject | null> {
    return decodeSubject(await this.s.store.get(externalKey(sha256(deviceCode))));
  }

  private async find(userCode: string): Promise<{ hash: string; rec: DeviceRecord } | null> {
    const code = normalizeUserCode(userCode);
    if (!code) return null;
    const hash = await this.s.store.get(userCodeKey(code));
    if (!hash) return null;
    const raw = await this.s.store.get(recordKey(hash));
    return raw ? { hash, rec: JSON.parse(raw) as DeviceRecord } : null;
  }

  async lookup(userCode: string): Promise<DeviceLookup> {
    const found = await this.find(userCode);
    const remaining = found ? Math.floor((found.rec.expires_at_ms - Date.now()) / 1000) : 0;
    if (!found || found.rec.status !== 'pending' || remaining <= 0) return { valid: false };
    return {
      valid: true,
      client_id: found.rec.client_id,
      device_label: found.rec.device_label,
      expires_in_remaining: remaining,
      user_code: formatUserCode(found.rec.user_code),
    };
  }

  approve(userCode: string, account: { id: string; email: string }) {
    return this.resolve(userCode, account, 'approved');
  }

  deny(userCode: string, account: { id: string; email: string }) {
    return this.resolve(userCode, account, 'denied');
  }

  private async resolve(userCode: string, account: { id: string; email: string }, status: 'approved' | 'denied') {
    const found = await this.find(userCode);
    if (!found) return 'not_found' as const;
    const result = await this.s.store.run(resolveScript, [recordKey(found.hash)], [status, account.id, account.email]);
    if (result === 'ok') {
      this.s.audit(status === 'approved' ? 'oauth.device_flow_approved' : 'oauth.device_flow_denied', {
        subject: account.id,
        client_id: found.rec.client_id,
        device_label: found.rec.device_label,
      });
    }
    return result;
  }

  /** Lookups and wrong user codes share one per-IP window: 60 per 5 minutes. */
  async hitLookupLimit(ip: string): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const r = await this.limiter.hitKey('device-lookup', ip, 60, 5 * 60_000);
    return { allowed: r.allowed, retryAfterSeconds: Math.ceil(r.resetMs / 1000) };
  }

  async hitIssuanceLimit(ip: string): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const r = await this.limiter.hitKey('device-code', ip, 60, 3600_000);
    return { allowed: r.allowed, retryAfterSeconds: Math.ceil(r.resetMs / 1000) };
  }

  poll(deviceCode: string, clientId: string): Promise<PollResult> {
    const hash = sha256(deviceCode);
    return this.s.store.run(pollScript, [recordKey(hash), usedKey(hash)], [clientId, LEASE_MS]);
  }

  async collected(deviceCode: string, tokenId: string, expiresAtMs: number): Promise<void> {
    const hash = sha256(deviceCode);
    const ttl = Math.max(1_000, expiresAtMs - Date.now() + GRACE_MS);
    await this.s.store.run(finishScript, [recordKey(hash), usedKey(hash)], [tokenId, ttl]);
  }

  async release(deviceCode: string): Promise<void> {
    await this.s.store.run(releaseScript, [recordKey(sha256(deviceCode))], []);
  }
}

/** One service per app instance, shared by the OAuth and console routers. */
export const deviceFlowFor = perServices((s) => new DeviceFlowService(s));
