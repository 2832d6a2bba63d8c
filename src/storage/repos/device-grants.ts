import type { ExternalSubject } from '../../auth/token-service.ts';
import type { Database, TxQuery } from '../db.ts';
import { ACCOUNT_ISSUER } from './tokens.ts';

export interface DeviceGrant {
  codeHash: string;
  clientId: string;
  scope: string;
  deviceLabel: string;
  status: 'approved' | 'denied';
  accountId: string;
  email: string;
  expiresAt: Date;
  /** Who approved in the external-SSO branch (accountId is then ''); null for an account. */
  subject: ExternalSubject | null;
}

interface StoredGrant extends DeviceGrant {
  tokenId: string | null;
  collected: boolean;
  /** Collected less than the replay grace window ago. */
  inGrace: boolean;
  expired: boolean;
}

/** Collection found the grant already collected (by a racing poll, or through the other path). */
export class AlreadyCollected extends Error {
  constructor(
    readonly tokenId: string | null,
    readonly inGrace: boolean,
    /** When it was collected (epoch ms), so the store's replay marker keeps the real grace window. */
    readonly collectedAtMs: number,
  ) {
    super('device grant already collected');
  }
}

interface GrantRow {
  code_hash: string;
  client_id: string;
  scope: string;
  device_label: string;
  status: 'approved' | 'denied';
  account_id: string | null;
  subject_email: string;
  subject_issuer: string;
  subject_sub: string | null;
  subject_name: string | null;
  subject_sid: string | null;
  expires_at: Date;
  token_id: string | null;
  collected: boolean;
  in_grace: boolean;
  expired: boolean;
}

const toGrant = (r: GrantRow): StoredGrant => ({
  codeHash: r.code_hash,
  clientId: r.client_id,
  scope: r.scope,
  deviceLabel: r.device_label,
  status: r.status,
  accountId: r.account_id ?? '',
  email: r.subject_email,
  expiresAt: r.expires_at,
  subject: r.subject_sub === null ? null : { issuer: r.subject_issuer, sub: r.subject_sub, email: r.subject_email, name: r.subject_name, sid: r.subject_sid },
  tokenId: r.token_id,
  collected: r.collected,
  inGrace: r.in_grace,
  expired: r.expired,
});

/** Whether the grant was collected within the grace window (the query's $2, in ms). */
const IN_GRACE = 'coalesce(collected_at > now() - make_interval(secs => $2::float8 / 1000), false) AS in_grace';

/**
 * Device-flow decisions in Postgres (the durable copy of the store's records) and
 * their collection. Times are the database's, so every replica agrees on them.
 */
export class DeviceGrantRepo {
  constructor(private readonly db: Database) {}

  /** Records a decision; the store already guarantees one decision per code. */
  async record(g: DeviceGrant): Promise<void> {
    await this.db.query(
      `INSERT INTO device_grants (code_hash, client_id, scope, device_label, status, account_id, subject_email, expires_at,
                                  subject_issuer, subject_sub, subject_name, subject_sid)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (code_hash) DO NOTHING`,
      [g.codeHash, g.clientId, g.scope, g.deviceLabel, g.status, g.accountId || null, g.email, g.expiresAt, ...subjectColumns(g)],
    );
  }

  async find(codeHash: string, graceMs: number): Promise<StoredGrant | undefined> {
    const row = await this.db.one<GrantRow>(
      `SELECT code_hash, client_id, scope, device_label, status, account_id, subject_email, subject_issuer, subject_sub, subject_name, subject_sid,
              expires_at, token_id,
              collected_at IS NOT NULL AS collected,
              ${IN_GRACE},
              expires_at <= now() AS expired
         FROM device_grants WHERE code_hash = $1`,
      [codeHash, graceMs],
    );
    return row && toGrant(row);
  }

  /**
   * Inside the minting transaction, before the token: marks the approved grant
   * collected, or throws AlreadyCollected. The conditional upsert locks the row, so
   * concurrent collectors on any replicas queue here and exactly one gets through;
   * a grant the store knew but Postgres did not (decided before this table existed)
   * is inserted as collected.
   */
  async claim(q: TxQuery, g: DeviceGrant, graceMs: number): Promise<void> {
    const won = await q(
      `INSERT INTO device_grants (code_hash, client_id, scope, device_label, status, account_id, subject_email, expires_at,
                                  subject_issuer, subject_sub, subject_name, subject_sid, collected_at)
       VALUES ($1, $2, $3, $4, 'approved', $5, $6, $7, $8, $9, $10, $11, now())
       ON CONFLICT (code_hash) DO UPDATE SET collected_at = now()
        WHERE device_grants.collected_at IS NULL AND device_grants.status = 'approved'
       RETURNING code_hash`,
      [g.codeHash, g.clientId, g.scope, g.deviceLabel, g.accountId || null, g.email, g.expiresAt, ...subjectColumns(g)],
    );
    if (won.length === 1) return;
    const [seen] = await q<{ token_id: string | null; in_grace: boolean; collected_at: Date | null }>(
      `SELECT token_id, collected_at, ${IN_GRACE} FROM device_grants WHERE code_hash = $1`,
      [g.codeHash, graceMs],
    );
    throw new AlreadyCollected(seen?.token_id ?? null, seen?.in_grace ?? false, seen?.collected_at?.getTime() ?? 0);
  }

  /** In the same transaction, after minting: which token the code produced (for replay revocation). */
  async setToken(q: TxQuery, codeHash: string, tokenId: string): Promise<void> {
    await q('UPDATE device_grants SET token_id = $2 WHERE code_hash = $1', [codeHash, tokenId]);
  }
}

/** subject_issuer, subject_sub, subject_name, subject_sid of a grant's row. */
function subjectColumns(g: DeviceGrant): [string, string | null, string | null, string | null] {
  return g.subject ? [g.subject.issuer, g.subject.sub, g.subject.name, g.subject.sid ?? null] : [ACCOUNT_ISSUER, null, null, null];
}
