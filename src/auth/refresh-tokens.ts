import type { Config } from '../config.ts';
import type { Database, TxQuery } from '../storage/db.ts';
import { RefreshTokenRepo, type LockedSession } from '../storage/repos/refresh-tokens.ts';
import type { AuditSink } from '../observability/audit.ts';
import type { RevocationReason } from '../observability/audit-catalog.ts';
import type { InvalidatingCache } from './invalidating-cache.ts';
import { hasScope, isScope } from './scopes.ts';
import { secondsUntil } from './session-lifetimes.ts';
import { generateToken, hashToken, kindByPrefix } from './token-kinds.ts';
import type { MintedToken, TokenService } from './token-service.ts';

/** Why a refresh was refused; the token endpoint answers each with `invalid_grant` (or `invalid_scope`) and its own description. */
export type RefreshRefusal = 'unknown' | 'wrong_client' | 'dpop_key' | 'expired' | 'disabled' | 'community_edition' | 'in_grace' | 'reused' | 'invalid_scope';

export type RefreshOutcome = { ok: true; minted: MintedToken; scope: string } | { ok: false; why: RefreshRefusal };

export interface RefreshRequest {
  refreshToken: string;
  clientId: string;
  /** RFC 6749 §6 `scope`: null when absent; otherwise it may not exceed what the session holds. */
  scope: string[] | null;
  /** The key of the request's DPoP proof (RFC 9449 §5), or null without one. */
  dpopJkt: string | null;
  /** For the audit trail. */
  requestId: string | undefined;
  clientAddress: string | undefined;
}

type Step = { ok: true; session: LockedSession } | { ok: false; why: RefreshRefusal; sessionId?: string; end?: boolean };

/**
 * The refresh grant's use case (docs/tokens.md, "Sessions and refresh tokens"): every use
 * rotates (a new access token and a new refresh token; the presented one spent). In one
 * transaction, as named steps: find the session by its refresh token (locked, so racing
 * refreshes queue and exactly one wins) → the client → the key (DPoP) → the subject →
 * expiry → scope → rotate. A spent token presented again within the grace window is refused
 * and nothing more; later it is reuse, and the whole session ends on every replica.
 */
export class RefreshTokens {
  private readonly repo = new RefreshTokenRepo();

  constructor(
    private readonly config: Config,
    private readonly db: Database,
    private readonly tokens: TokenService,
    private readonly cache: InvalidatingCache<unknown>,
    private readonly audit: AuditSink,
  ) {}

  async refresh(req: RefreshRequest): Promise<RefreshOutcome> {
    const lifetimes = this.config.refreshTokens!;
    const presented = hashToken(req.refreshToken);
    const next = { access: '', refresh: generateToken('tsr_') };
    const result = await this.db.tx(async (q) => {
      const found = await this.find(q, presented, req.dpopJkt);
      const checked = found.ok ? this.check(found.session, req) : found;
      if (!checked.ok) return { checked };
      const { session } = checked;
      next.access = generateToken(session.prefix);
      const row = await this.repo.rotate(q, session.id, presented, {
        accessHash: hashToken(next.access),
        refreshHash: hashToken(next.refresh),
        accessSeconds: lifetimes.accessTokenTtlSeconds,
        idleDays: lifetimes.refreshTokenTtlDays,
        // RFC 9449 §5: a refresh with a proof binds what it issues (a bound session's key is the proof's, checked above).
        dpopJkt: req.dpopJkt,
      });
      return { checked, row };
    });
    const { checked, row } = result;
    if (!checked.ok) return this.refused(checked, req);
    const { session } = checked;
    // The replaced access token stops working on every replica at once.
    if (session.token_hash) await this.cache.invalidate([session.token_hash]);
    this.audit('oauth.token_refreshed', {
      token_id: session.id,
      subject: session.account_id ?? session.subject_sub,
      subject_issuer: session.subject_issuer,
      client_id: session.client_id,
      device_label: session.device_label,
      request_id: req.requestId,
      client_address: req.clientAddress,
      dpop_bound: req.dpopJkt !== null,
    });
    const minted: MintedToken = {
      token: next.access,
      id: session.id,
      expiresAt: row!.expires_at,
      expiresIn: secondsUntil(row!.expires_at),
      refresh: { token: next.refresh, expiresAt: row!.refresh_expires_at, expiresIn: secondsUntil(row!.refresh_expires_at) },
      rotated: true,
      dpopJkt: req.dpopJkt,
    };
    return { ok: true, minted, scope: kindByPrefix(session.prefix)!.scopes!.join(' ') };
  }

  /**
   * Step 1: the live session holding this refresh token, else what became of the token. A
   * spent token of a bound session is judged as reuse only with a proof of the session's key:
   * a copy without the key can use nothing, so it ends nothing either.
   */
  private async find(q: TxQuery, hash: string, dpopJkt: string | null): Promise<Step> {
    const session = await this.repo.lockLive(q, hash);
    if (session) return { ok: true, session };
    const spent = await this.repo.findSpent(q, hash, this.config.refreshTokens!.reuseGraceSeconds);
    if (!spent) return { ok: false, why: 'unknown' };
    if (spent.dpop_jkt !== null && spent.dpop_jkt !== dpopJkt) return { ok: false, why: 'dpop_key' };
    if (spent.in_grace) return { ok: false, why: 'in_grace' };
    return { ok: false, why: 'reused', sessionId: spent.session_id, end: spent.session_live };
  }

  /**
   * Steps 2–6: the client it was issued to, the key a bound session's tokens need a proof of
   * (RFC 9449 §5; checked before anything that could end the session or tell about it), a
   * subject that may still sign in here, its expiry, and the scope asked for.
   */
  private check(session: LockedSession, req: RefreshRequest): Step {
    const refuse = (why: RefreshRefusal, end = false): Step => ({ ok: false, why, sessionId: session.id, end });
    if (session.client_id !== req.clientId) return refuse('wrong_client');
    if (session.dpop_jkt !== null && session.dpop_jkt !== req.dpopJkt) return refuse('dpop_key');
    if (session.disabled) return refuse('disabled', true);
    // External subjects exist in the enterprise edition only; their sessions wait, untouched, for it to return.
    if (session.prefix === 'tse_' && this.config.edition !== 'enterprise') return refuse('community_edition');
    if (session.expired) return refuse('expired', true);
    const granted = kindByPrefix(session.prefix)!.scopes!;
    if (req.scope?.some((x) => !isScope(x) || !hasScope(granted, x))) return refuse('invalid_scope');
    return { ok: true, session };
  }

  /** After the transaction: end the session when the refusal calls for it, and audit a reuse. */
  private async refused(step: Extract<Step, { ok: false }>, req: RefreshRequest): Promise<RefreshOutcome> {
    const ended = step.end && step.sessionId ? await this.tokens.revokeTokenId(step.sessionId, `refresh_token_${step.why}` as RevocationReason, { request_id: req.requestId, client_address: req.clientAddress }) : false;
    if (step.why === 'reused') {
      this.audit('oauth.refresh_token_reused', {
        token_id: step.sessionId,
        client_id: req.clientId,
        session_revoked: ended,
        request_id: req.requestId,
        client_address: req.clientAddress,
      });
    }
    return { ok: false, why: step.why };
  }
}
