import { randomBytes } from 'node:crypto';
import { RateLimiter } from '../auth/rate-limit.ts';
import { hashToken, kindByPrefix } from '../auth/token-kinds.ts';
import type { ExternalSubject, MintedToken, MintHooks } from '../auth/token-service.ts';
import { clientKey } from '../limits/client-key.ts';
import type { AuditOrigin } from '../observability/audit-catalog.ts';
import { METRICS, type DeviceFlowBranch } from '../observability/metric-catalog.ts';
import { count } from '../observability/metrics.ts';
import { perServices, type Services } from '../services.ts';
import { DeviceGrantRepo, type DeviceGrant } from '../storage/repos/device-grants.ts';
import {
  finishScript,
  pollScript,
  recordKey,
  releaseScript,
  resolveScript,
  unresolveScript,
  usedKey,
  userCodeKey,
  type DeviceRecord,
  type PollResult,
} from './device-scripts.ts';
import { decodeSubject, encodeSubject, externalKey, resolveExternalScript } from './external-approval.ts';
import { formatUserCode, generateUserCode, normalizeUserCode } from './user-code.ts';

export { formatUserCode, normalizeUserCode };

/** Records outlive their code a little so a late poll hears `expired_token`, not `invalid_grant`. */
const GRACE_MS = 10 * 60_000;
/** How long one poller may hold an approval while it mints the token. */
const LEASE_MS = 15_000;
/**
 * After a code is collected, a repeat poll within this window is a racing or retried
 * poll of the same client (its answer may have been lost): `invalid_grant`, nothing
 * revoked. Later, a repeat is a replay and revokes the token the code produced.
 */
const REPLAY_GRACE_MS = 5_000;
const DEVICE_CODE = /^[A-Za-z0-9_-]{43}$/;

/** An approval to collect; `subject` is set when the Postgres fallback already read who approved it in the SSO branch. */
type Approved = Extract<PollResult, { r: 'approved' }> & { subject?: ExternalSubject | null };

/**
 * An approval from the external-SSO branch, collected on a server in the community
 * edition (it was given while the server ran the enterprise edition, and written through
 * to Postgres): external subjects do not exist here, so no `tse_` token is minted.
 */
export class ExternalApprovalRefused extends Error {
  constructor() {
    super('external-SSO approvals are not collected in the community edition');
  }
}

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


/** RFC 8628 device flow over the store: issuance, lookup, approve/deny, poll. */
export class DeviceFlowService {
  private readonly limiter: RateLimiter;
  private readonly grants: DeviceGrantRepo;

  constructor(private readonly s: Services) {
    this.limiter = new RateLimiter(s.store, 60);
    this.grants = new DeviceGrantRepo(s.db);
  }

  async start(clientId: string, scope: string, deviceLabel: string): Promise<StartedFlow> {
    const ttlMs = this.s.config.deviceCodeTtlSeconds * 1000;
    const deviceCode = randomBytes(32).toString('base64url');
    const hash = hashToken(deviceCode);
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
    // Every code starts in the account branch; the SSO branch counts its own start (sso-initiate).
    count(METRICS.deviceFlowEvents, { branch: 'account', event: 'started' });
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

  /** The external-SSO branch's approve or deny, for the code a grant was issued for; written through like an account decision. */
  async resolveExternal(hash: string, rec: DeviceRecord, subject: ExternalSubject, status: 'approved' | 'denied', origin: AuditOrigin = {}) {
    const result = await this.s.store.run(resolveExternalScript, [recordKey(hash), externalKey(hash)], [status, subject.email, encodeSubject(subject)]);
    if (result === 'ok') {
      await this.decided({ ...grantOf(hash, rec), status, accountId: '', email: subject.email, subject }, {
        subject: subject.sub,
        subject_email: subject.email,
        subject_issuer: subject.issuer,
        ...origin,
      });
    }
    return result;
  }

  /**
   * Who approved a device code in the external-SSO branch (null for an account approval):
   * from the store, else from the decision written through to Postgres.
   */
  /** Which branch approved a collected code (a replay is counted under it). */
  async branchOf(deviceCode: string): Promise<DeviceFlowBranch> {
    return (await this.externalSubject(deviceCode)) ? 'sso' : 'account';
  }

  private async externalSubject(deviceCode: string): Promise<ExternalSubject | null> {
    const hash = hashToken(deviceCode);
    return decodeSubject(await this.s.store.get(externalKey(hash))) ?? (await this.grants.find(hash, REPLAY_GRACE_MS))?.subject ?? null;
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

  approve(userCode: string, account: { id: string; email: string }, origin: AuditOrigin = {}) {
    return this.resolve(userCode, account, 'approved', origin);
  }

  deny(userCode: string, account: { id: string; email: string }, origin: AuditOrigin = {}) {
    return this.resolve(userCode, account, 'denied', origin);
  }

  private async resolve(userCode: string, account: { id: string; email: string }, status: 'approved' | 'denied', origin: AuditOrigin) {
    const found = await this.find(userCode);
    if (!found) return 'not_found' as const;
    const result = await this.s.store.run(resolveScript, [recordKey(found.hash)], [status, account.id, account.email]);
    if (result === 'ok') {
      await this.decided({ ...grantOf(found.hash, found.rec), status, accountId: account.id, email: account.email, subject: null }, { subject: account.id, ...origin });
    }
    return result;
  }

  /**
   * A decision the store just took, made durable before it is confirmed (a decision the user
   * saw succeed survives a store restart): written through to Postgres, else the store's
   * record goes back to pending and the error propagates; then audited.
   */
  private async decided(grant: DeviceGrant, who: { subject: string; subject_email?: string; subject_issuer?: string } & AuditOrigin): Promise<void> {
    try {
      await this.grants.record(grant);
    } catch (err) {
      await this.s.store.run(unresolveScript, [recordKey(grant.codeHash)], [grant.status, grant.accountId]).catch(() => undefined);
      throw err;
    }
    const branch = grant.subject ? 'sso' : 'account';
    count(METRICS.deviceFlowEvents, { branch, event: grant.status === 'approved' ? 'approved' : 'denied' });
    this.s.audit(grant.status === 'approved' ? 'oauth.device_flow_approved' : 'oauth.device_flow_denied', {
      branch,
      ...who,
      client_id: grant.clientId,
      device_label: grant.deviceLabel,
    });
  }

  /**
   * Lookups, SSO starts and wrong user codes share one per-client window: 60 per 5
   * minutes. `clientAddress` is the request's (express `req.ip`); an IPv6 client counts as its /64.
   */
  async hitLookupLimit(clientAddress: string | undefined): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const r = await this.limiter.hitKey('device-lookup', clientKey(clientAddress), 60, 5 * 60_000);
    return { allowed: r.allowed, retryAfterSeconds: Math.ceil(r.resetMs / 1000) };
  }

  /** Device codes: 60 per hour per client (an IPv6 client is its /64). */
  async hitIssuanceLimit(clientAddress: string | undefined): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const r = await this.limiter.hitKey('device-code', clientKey(clientAddress), 60, 3600_000);
    return { allowed: r.allowed, retryAfterSeconds: Math.ceil(r.resetMs / 1000) };
  }

  /**
   * The store decides (state machine, slow_down, lease); when it has no trace of the
   * code (it restarted empty), the decision written through to Postgres answers.
   */
  async poll(deviceCode: string, clientId: string): Promise<PollResult | Approved> {
    const hash = hashToken(deviceCode);
    const result = await this.s.store.run(pollScript, [recordKey(hash), usedKey(hash)], [clientId, LEASE_MS, REPLAY_GRACE_MS]);
    if (result.r !== 'invalid' || !DEVICE_CODE.test(deviceCode)) return result;
    const g = await this.grants.find(hash, REPLAY_GRACE_MS);
    if (!g || g.clientId !== clientId) return { r: 'invalid' };
    if (g.collected) return { r: 'replay', token_id: g.tokenId ?? '', in_grace: g.inGrace };
    if (g.expired) return { r: 'expired' };
    if (g.status === 'denied') return { r: 'denied' };
    return { r: 'approved', account_id: g.accountId, email: g.email, device_label: g.deviceLabel, scope: g.scope, expires_at_ms: g.expiresAt.getTime(), subject: g.subject };
  }

  /**
   * Mints the token and marks the code collected in one transaction: the conditional
   * update of its grant row lets exactly one collector through, whether it came by the
   * store's lease or by the Postgres fallback. Throws AlreadyCollected otherwise. An
   * approval without an account was given in the external-SSO branch: a tse_ token for
   * the IdP's subject, with the scopes of its kind — in the enterprise edition only
   * (ExternalApprovalRefused otherwise, before anything is read or written).
   */
  /** `dpopJkt`: the key of the collecting poll's DPoP proof, which the tokens are bound to (RFC 9449 §5); null: bearer tokens. */
  async collect(deviceCode: string, clientId: string, a: Approved, dpopJkt: string | null = null, origin: AuditOrigin = {}): Promise<{ minted: MintedToken; scope: string }> {
    if (!a.account_id && this.s.config.edition !== 'enterprise') throw new ExternalApprovalRefused();
    const hash = hashToken(deviceCode);
    const subject = a.account_id ? null : (a.subject ?? (await this.externalSubject(deviceCode)));
    if (!a.account_id && !subject) throw new Error('external approval without its subject');
    const grant: DeviceGrant = {
      codeHash: hash,
      clientId,
      scope: a.scope,
      deviceLabel: a.device_label,
      status: 'approved',
      accountId: a.account_id,
      email: a.email,
      expiresAt: new Date(a.expires_at_ms),
      subject,
    };
    const hooks: MintHooks = { before: (q) => this.grants.claim(q, grant, REPLAY_GRACE_MS), after: (q, tokenId) => this.grants.setToken(q, hash, tokenId) };
    if (subject) {
      const minted = await this.s.tokens.mintExternalToken({ subject, clientId, deviceLabel: a.device_label, dpopJkt }, hooks, origin);
      return { minted, scope: kindByPrefix('tse_')!.scopes!.join(' ') };
    }
    const minted = await this.s.tokens.mintAccountToken({ accountId: a.account_id, email: a.email, clientId, deviceLabel: a.device_label, dpopJkt }, hooks, origin);
    return { minted, scope: a.scope };
  }

  /** The store forgets the approval and keeps a replay marker. `atMs` 0 stamps the store's own time. */
  async collected(deviceCode: string, tokenId: string, expiresAtMs: number, atMs = 0): Promise<void> {
    const hash = hashToken(deviceCode);
    const ttl = Math.max(1_000, expiresAtMs - Date.now() + GRACE_MS);
    await this.s.store.run(finishScript, [recordKey(hash), usedKey(hash)], [tokenId, ttl, atMs]);
  }

  async release(deviceCode: string): Promise<void> {
    await this.s.store.run(releaseScript, [recordKey(hashToken(deviceCode))], []);
  }
}

function grantOf(hash: string, rec: DeviceRecord): Omit<DeviceGrant, 'status' | 'accountId' | 'email' | 'subject'> {
  return { codeHash: hash, clientId: rec.client_id, scope: rec.scope, deviceLabel: rec.device_label, expiresAt: new Date(rec.expires_at_ms) };
}

/** One service per app instance, shared by the OAuth and console routers. */
export const deviceFlowFor = perServices((s) => new DeviceFlowService(s));
