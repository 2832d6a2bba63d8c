import type { Config } from '../config.ts';
import type { Database } from '../storage/db.ts';
import { ownerClause, type SessionOwner } from '../storage/repos/sessions.ts';
import type { TxQuery } from '../storage/db.ts';
import { ACCOUNT_ISSUER } from '../storage/repos/tokens.ts';
import type { AuditSink } from './audit.ts';
import type { InvalidatingCache } from './invalidating-cache.ts';
import { generateToken, hashToken } from './token-kinds.ts';

/** Who an IdP vouched for (docs/enterprise.md): its issuer, `sub`, verified email and display name. */
export interface ExternalSubject {
  issuer: string;
  sub: string;
  email: string;
  name: string | null;
}

export interface MintedToken {
  token: string;
  id: string;
  expiresAt: Date;
  expiresIn: number;
  rotated: boolean;
}

/** Work that commits or rolls back with the token (the device flow's exactly-once claim). */
export interface MintHooks {
  /** Runs first in the transaction; throwing aborts the mint. */
  before?: (q: TxQuery) => Promise<void>;
  /** Runs last in the transaction, with the token's row id. */
  after?: (q: TxQuery, tokenId: string) => Promise<void>;
}

/**
 * Device-flow token lifecycle (docs/tokens.md). Minting for a device that already has
 * a live token rotates that row in place: new hash, new expiry, same id, and the
 * old token stops working on every replica at once.
 */
export class TokenService {
  constructor(
    private readonly config: Config,
    private readonly db: Database,
    private readonly cache: InvalidatingCache<unknown>,
    private readonly audit: AuditSink,
  ) {}

  mintAccountToken(input: { accountId: string; email: string; clientId: string; deviceLabel: string }, hooks: MintHooks = {}): Promise<MintedToken> {
    return this.mint({ ...input, prefix: 'tsa_', issuer: ACCOUNT_ISSUER, sub: null, name: null }, hooks);
  }

  /** A tse_ token for an external subject: no account; scopes come from the kind. */
  mintExternalToken(input: { subject: ExternalSubject; clientId: string; deviceLabel: string }, hooks: MintHooks = {}): Promise<MintedToken> {
    const { issuer, sub, email, name } = input.subject;
    return this.mint({ prefix: 'tse_', issuer, accountId: null, sub, name, email, clientId: input.clientId, deviceLabel: input.deviceLabel }, hooks);
  }

  private async mint(input: {
    prefix: 'tsa_' | 'tse_';
    issuer: string;
    accountId: string | null;
    sub: string | null;
    name: string | null;
    email: string;
    clientId: string;
    deviceLabel: string;
  }, hooks: MintHooks): Promise<MintedToken> {
    const token = generateToken(input.prefix);
    const hash = hashToken(token);
    const days = this.config.accessTokenTtlDays;
    const email = input.email.toLowerCase();
    const { row, oldHash } = await this.db.tx(async (q) => {
      await hooks.before?.(q);
      const [old] = await q<{ id: string; token_hash: string | null }>(
        `SELECT id, token_hash FROM oauth_access_tokens
          WHERE subject_email = $1 AND subject_issuer = $2 AND client_id = $3 AND device_label = $4 AND revoked_at IS NULL
          FOR UPDATE`,
        [email, input.issuer, input.clientId, input.deviceLabel],
      );
      if (old) {
        // The same device of the same subject: rotate in place (and follow the IdP if its sub or name changed).
        const [row] = await q<{ id: string; expires_at: Date }>(
          `UPDATE oauth_access_tokens SET token_hash = $2, prefix = $4, account_id = $5, subject_sub = $6, subject_name = $7,
                  created_at = now(), last_used_at = NULL, expires_at = now() + make_interval(days => $3)
            WHERE id = $1 RETURNING id, expires_at`,
          [old.id, hash, days, input.prefix, input.accountId, input.sub, input.name],
        );
        await hooks.after?.(q, row!.id);
        return { row: row!, oldHash: old.token_hash };
      }
      const [row] = await q<{ id: string; expires_at: Date }>(
        `INSERT INTO oauth_access_tokens (token_hash, prefix, subject_email, subject_issuer, account_id, client_id, device_label, subject_sub, subject_name, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(days => $10)) RETURNING id, expires_at`,
        [hash, input.prefix, email, input.issuer, input.accountId, input.clientId, input.deviceLabel, input.sub, input.name, days],
      );
      await hooks.after?.(q, row!.id);
      return { row: row!, oldHash: null };
    });
    if (oldHash) await this.cache.invalidate([oldHash]);
    this.audit('oauth.token_minted', {
      token_id: row.id,
      subject: input.accountId ?? input.sub,
      subject_issuer: input.issuer,
      prefix: input.prefix,
      client_id: input.clientId,
      device_label: input.deviceLabel,
      rotated: oldHash !== null,
    });
    return {
      token,
      id: row.id,
      expiresAt: row.expires_at,
      expiresIn: Math.max(0, Math.floor((row.expires_at.getTime() - Date.now()) / 1000)),
      rotated: oldHash !== null,
    };
  }

  /** RFC 7009 semantics: revoking an unknown or dead token is not an error. */
  async revokeByToken(token: string, reason = 'revoked'): Promise<boolean> {
    const hash = hashToken(token);
    const row = await this.db.one<{ id: string; account_id: string | null }>(
      `UPDATE oauth_access_tokens SET revoked_at = now(), token_hash = NULL
        WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id, account_id`,
      [hash],
    );
    const key = row
      ? undefined
      : await this.db.one<{ id: string; account_id: string }>(
          `UPDATE api_keys SET revoked_at = now(), token_hash = NULL WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id, account_id`,
          [hash],
        );
    const hit = row ?? key;
    await this.cache.invalidate([hash]);
    if (hit) this.audit('oauth.token_revoked', { token_id: hit.id, subject: hit.account_id, reason });
    return hit !== undefined;
  }

  /** Revokes a device-flow token by id whoever holds it (a replayed device code revokes what it produced). */
  async revokeTokenId(id: string, reason: string): Promise<boolean> {
    const row = await this.db.one<{ token_hash: string | null; account_id: string | null }>(
      `UPDATE oauth_access_tokens t SET revoked_at = now(), token_hash = NULL
         FROM (SELECT id, token_hash FROM oauth_access_tokens WHERE id = $1 AND revoked_at IS NULL FOR UPDATE) old
        WHERE t.id = old.id RETURNING old.token_hash, t.account_id`,
      [id],
    );
    if (!row) return false;
    if (row.token_hash) await this.cache.invalidate([row.token_hash]);
    this.audit('oauth.token_revoked', { token_id: id, subject: row.account_id, reason });
    return true;
  }

  /** Revokes one of the subject's device-flow tokens by id; false when it is not theirs or not live. */
  async revokeById(owner: SessionOwner, id: string, reason = 'revoked'): Promise<boolean> {
    const { where, values } = ownerClause(owner);
    const n = values.length;
    const row = await this.db.one<{ token_hash: string | null }>(
      `UPDATE oauth_access_tokens t SET revoked_at = now(), token_hash = NULL
         FROM (SELECT id, token_hash FROM oauth_access_tokens WHERE id = $${n + 1} AND ${where} AND revoked_at IS NULL FOR UPDATE) old
        WHERE t.id = old.id RETURNING old.token_hash`,
      [...values, id],
    );
    if (!row) return false;
    if (row.token_hash) await this.cache.invalidate([row.token_hash]);
    this.audit('oauth.token_revoked', { token_id: id, subject: 'accountId' in owner ? owner.accountId : owner.email, reason });
    return true;
  }
}
