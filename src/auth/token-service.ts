import type { Config } from '../config.ts';
import type { Database, TxQuery } from '../storage/db.ts';
import { SessionRepo, type EndedSession, type SessionOwner } from '../storage/repos/sessions.ts';
import { ACCOUNT_ISSUER } from '../storage/repos/tokens.ts';
import type { AuditSink } from '../observability/audit.ts';
import type { AuditOrigin, RevocationReason } from '../observability/audit-catalog.ts';
import type { InvalidatingCache } from './invalidating-cache.ts';
import { lifetimesOf, lifetimeValues, newSessionExpiries, secondsUntil } from './session-lifetimes.ts';
import { generateToken, hashToken, kindByPrefix } from './token-kinds.ts';

/** Who an IdP vouched for (docs/enterprise.md): its issuer, `sub`, verified email and display name, and its session (`sid`) when it names one. */
export interface ExternalSubject {
  issuer: string;
  sub: string;
  email: string;
  name: string | null;
  sid?: string | null;
}

/** A refresh token as issued: the plain token exists only in this answer. */
export interface IssuedRefreshToken {
  token: string;
  expiresAt: Date;
  expiresIn: number;
}

export interface MintedToken {
  token: string;
  id: string;
  expiresAt: Date;
  expiresIn: number;
  /** Null without refresh tokens (OAUTH_REFRESH_TOKENS=false). */
  refresh: IssuedRefreshToken | null;
  rotated: boolean;
  /** The JWK thumbprint of the key both tokens are bound to (DPoP, RFC 9449); null: bearer tokens. */
  dpopJkt: string | null;
}

/** Work that commits or rolls back with the token (the device flow's exactly-once claim). */
export interface MintHooks {
  /** Runs first in the transaction; throwing aborts the mint. */
  before?: (q: TxQuery) => Promise<void>;
  /** Runs last in the transaction, with the token's row id. */
  after?: (q: TxQuery, tokenId: string) => Promise<void>;
}

/** The account was disabled (`admin disable-account`): nothing is minted for it. */
export class AccountDisabled extends Error {
  constructor() {
    super('the account is disabled');
  }
}

interface MintInput {
  prefix: 'tsa_' | 'tse_';
  issuer: string;
  accountId: string | null;
  sub: string | null;
  name: string | null;
  sid: string | null;
  email: string;
  clientId: string;
  deviceLabel: string;
  dpopJkt: string | null;
}

/**
 * Device sessions and their tokens (docs/tokens.md). Minting for a device that already has
 * a live session rotates that row in place: new tokens, new expiries, same id, and the old
 * access and refresh tokens stop working on every replica at once. Every way a session ends
 * (sign-out, RFC 7009, a replayed device code, offboarding) clears both of its token hashes
 * in one statement and publishes the access token's hash to every replica.
 */
export class TokenService {
  private readonly sessions: SessionRepo;

  constructor(
    private readonly config: Config,
    private readonly db: Database,
    private readonly cache: InvalidatingCache<unknown>,
    private readonly audit: AuditSink,
  ) {
    this.sessions = new SessionRepo(db);
  }

  /** `dpopJkt`: bind the session's tokens to this key (a DPoP proof came with the token request); absent or null: bearer tokens. */
  mintAccountToken(input: { accountId: string; email: string; clientId: string; deviceLabel: string; dpopJkt?: string | null }, hooks: MintHooks = {}, origin: AuditOrigin = {}): Promise<MintedToken> {
    return this.mint({ ...input, prefix: 'tsa_', issuer: ACCOUNT_ISSUER, sub: null, name: null, sid: null, dpopJkt: input.dpopJkt ?? null }, hooks, origin);
  }

  /** A tse_ token for an external subject: no account; scopes come from the kind. */
  mintExternalToken(input: { subject: ExternalSubject; clientId: string; deviceLabel: string; dpopJkt?: string | null }, hooks: MintHooks = {}, origin: AuditOrigin = {}): Promise<MintedToken> {
    const { issuer, sub, email, name, sid } = input.subject;
    const { clientId, deviceLabel } = input;
    return this.mint({ prefix: 'tse_', issuer, accountId: null, sub, name, sid: sid ?? null, email, clientId, deviceLabel, dpopJkt: input.dpopJkt ?? null }, hooks, origin);
  }

  private async mint(input: MintInput, hooks: MintHooks, origin: AuditOrigin): Promise<MintedToken> {
    const lifetimes = lifetimesOf(this.config);
    const token = generateToken(input.prefix);
    const refresh = lifetimes.refreshes ? generateToken('tsr_') : null;
    const email = input.email.toLowerCase();
    // The token and its subject, then the five lifetime values.
    const values = [hashToken(token), input.prefix, input.accountId, input.sub, input.name, input.sid, refresh && hashToken(refresh), ...lifetimeValues(lifetimes)];
    const returning = 'RETURNING id, expires_at, refresh_expires_at';
    const { row, oldHash } = await this.db.tx(async (q) => {
      await hooks.before?.(q);
      if (input.accountId) await refuseDisabled(q, input.accountId);
      const [old] = await q<{ id: string; token_hash: string | null }>(
        `SELECT id, token_hash FROM oauth_access_tokens
          WHERE subject_email = $1 AND subject_issuer = $2 AND client_id = $3 AND device_label = $4 AND revoked_at IS NULL
          FOR UPDATE`,
        [email, input.issuer, input.clientId, input.deviceLabel],
      );
      type Row = { id: string; expires_at: Date; refresh_expires_at: Date | null };
      let row: Row;
      if (old) {
        // The same device of the same subject: a new session in place of the old one (following the IdP if its sub or name changed).
        const e = newSessionExpiries(9);
        [row] = (await q<Row>(
          `UPDATE oauth_access_tokens SET token_hash = $2, prefix = $3, account_id = $4, subject_sub = $5, subject_name = $6, subject_sid = $7,
                  refresh_token_hash = $8, created_at = now(), last_used_at = NULL, last_refreshed_at = NULL, dpop_jkt = $14,
                  expires_at = ${e.expiresAt}, refresh_expires_at = ${e.refreshExpiresAt}, session_expires_at = ${e.sessionExpiresAt}
            WHERE id = $1 ${returning}`,
          [old.id, ...values, input.dpopJkt],
        )) as [Row];
        // The old session's spent refresh tokens belong to it, not to this one: presented later they are just unknown.
        await q('DELETE FROM oauth_spent_refresh_tokens WHERE session_id = $1', [old.id]);
      } else {
        const e = newSessionExpiries(8);
        [row] = (await q<Row>(
          `INSERT INTO oauth_access_tokens (token_hash, prefix, account_id, subject_sub, subject_name, subject_sid, refresh_token_hash,
                                            subject_email, subject_issuer, client_id, device_label, dpop_jkt, expires_at, refresh_expires_at, session_expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $13, $14, $15, $16, $17, ${e.expiresAt}, ${e.refreshExpiresAt}, ${e.sessionExpiresAt}) ${returning}`,
          [...values, email, input.issuer, input.clientId, input.deviceLabel, input.dpopJkt],
        )) as [Row];
      }
      await hooks.after?.(q, row.id);
      return { row, oldHash: old ? old.token_hash : null };
    });
    if (oldHash) await this.cache.invalidate([oldHash]);
    const rotated = oldHash !== null;
    this.audit('oauth.token_issued', {
      token_id: row.id,
      token_kind: kindByPrefix(input.prefix)!.source,
      subject: input.accountId ?? input.sub,
      subject_issuer: input.issuer,
      client_id: input.clientId,
      device_label: input.deviceLabel,
      rotated,
      with_refresh_token: refresh !== null,
      dpop_bound: input.dpopJkt !== null,
      ...origin,
    });
    return {
      token,
      id: row.id,
      expiresAt: row.expires_at,
      expiresIn: secondsUntil(row.expires_at),
      refresh: refresh && row.refresh_expires_at ? { token: refresh, expiresAt: row.refresh_expires_at, expiresIn: secondsUntil(row.refresh_expires_at) } : null,
      rotated,
      dpopJkt: input.dpopJkt,
    };
  }

  /**
   * RFC 7009 semantics: revoking an unknown or dead token is not an error. A session's
   * access token or its refresh token ends the whole session; an API key ends itself.
   */
  async revokeByToken(token: string, reason: RevocationReason = 'revoked', origin: AuditOrigin = {}): Promise<boolean> {
    const hash = hashToken(token);
    const ended = await this.finish(await this.sessions.endByTokenHash(hash), reason, origin);
    if (ended.length > 0) return true;
    const key = await this.db.one<{ id: string; account_id: string }>(
      `UPDATE api_keys SET revoked_at = now(), token_hash = NULL WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id, account_id`,
      [hash],
    );
    await this.cache.invalidate([hash]);
    if (key) this.audit('oauth.token_revoked', { token_id: key.id, subject: key.account_id, reason, ...origin });
    return key !== undefined;
  }

  /** Ends a device session by id whoever holds it (a replayed device code, a reused refresh token). */
  async revokeTokenId(id: string, reason: RevocationReason, origin: AuditOrigin = {}): Promise<boolean> {
    return (await this.finish(await this.sessions.endById(id), reason, origin)).length > 0;
  }

  /** Ends one of the subject's device sessions by id; false when it is not theirs or not live. */
  async revokeById(owner: SessionOwner, id: string, reason: RevocationReason = 'revoked', origin: AuditOrigin = {}): Promise<boolean> {
    return (await this.finish(await this.sessions.endOwnedById(owner, id), reason, origin)).length > 0;
  }

  /** Ends every device session of an account or external subject ("sign out everywhere", offboarding). */
  async revokeAllOf(owner: SessionOwner, reason: RevocationReason, origin: AuditOrigin = {}): Promise<EndedSession[]> {
    return this.finish(await this.sessions.endAllOf(owner), reason, origin);
  }

  /** Ends the sessions an IdP's back-channel logout names: its subject's, or one IdP session's (docs/enterprise.md). */
  async revokeIdpSessions(issuer: string, who: { sub: string | null; sid: string | null }, reason: RevocationReason, origin: AuditOrigin = {}): Promise<EndedSession[]> {
    return this.finish(await this.sessions.endIdpSessions(issuer, who), reason, origin);
  }

  /** Drops the ended sessions' access tokens from every replica's identity cache, then audits each. */
  private async finish(ended: EndedSession[], reason: RevocationReason, origin: AuditOrigin): Promise<EndedSession[]> {
    await this.cache.invalidate(ended.flatMap((e) => (e.token_hash ? [e.token_hash] : [])));
    for (const e of ended) this.audit('oauth.token_revoked', { token_id: e.id, subject: e.account_id ?? e.subject_sub, reason, ...origin });
    return ended;
  }
}

/**
 * Refuses a disabled account. The row stays share-locked until the mint commits, so
 * `admin disable-account` (which updates it, then ends the account's sessions) waits for a
 * mint in flight and then ends its session too.
 */
async function refuseDisabled(q: TxQuery, accountId: string): Promise<void> {
  const [row] = await q<{ disabled: boolean }>('SELECT disabled_at IS NOT NULL AS disabled FROM accounts WHERE id = $1 FOR SHARE', [accountId]);
  if (row?.disabled) throw new AccountDisabled();
}
