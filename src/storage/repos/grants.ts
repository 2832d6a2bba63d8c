import type { Database } from '../db.ts';

export interface GrantRow {
  id: string;
  app_id: string;
  subject_issuer: string;
  email: string | null;
  email_domain: string | null;
  created_at: Date;
}

export type GrantTarget = { issuer: string } & ({ email: string; domain?: undefined } | { domain: string; email?: undefined });

/** The domain part of an email, lower-case ('' when there is none). */
export function emailDomain(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? '' : email.slice(at + 1).toLowerCase();
}

const COLUMNS = 'id, app_id, subject_issuer, email, email_domain, created_at';

/** Grants of apps to external subjects: by email, or by email domain, at one issuer. */
export class GrantRepo {
  constructor(private readonly db: Database) {}

  async isGranted(appId: string, issuer: string, email: string): Promise<boolean> {
    const row = await this.db.one(
      `SELECT 1 FROM app_grants WHERE app_id = $1 AND subject_issuer = $2 AND (email = lower($3) OR email_domain = $4) LIMIT 1`,
      [appId, issuer, email, emailDomain(email)],
    );
    return row !== undefined;
  }

  /** Idempotent: granting twice returns the existing grant. */
  async grant(appId: string, t: GrantTarget): Promise<{ grant: GrantRow; created: boolean }> {
    const [email, domain] = [t.email?.toLowerCase() ?? null, t.domain?.toLowerCase() ?? null];
    const inserted = await this.db.one<GrantRow>(
      `INSERT INTO app_grants (app_id, subject_issuer, email, email_domain) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
      [appId, t.issuer, email, domain],
    );
    if (inserted) return { grant: inserted, created: true };
    const existing = await this.db.one<GrantRow>(
      `SELECT ${COLUMNS} FROM app_grants WHERE app_id = $1 AND subject_issuer = $2 AND email IS NOT DISTINCT FROM $3 AND email_domain IS NOT DISTINCT FROM $4`,
      [appId, t.issuer, email, domain],
    );
    return { grant: existing!, created: false };
  }

  /** Returns the revoked grant, or undefined when there was none. */
  async revoke(appId: string, t: GrantTarget): Promise<GrantRow | undefined> {
    return this.db.one<GrantRow>(
      `DELETE FROM app_grants WHERE app_id = $1 AND subject_issuer = $2 AND email IS NOT DISTINCT FROM $3 AND email_domain IS NOT DISTINCT FROM $4
       RETURNING ${COLUMNS}`,
      [appId, t.issuer, t.email?.toLowerCase() ?? null, t.domain?.toLowerCase() ?? null],
    );
  }

  async listForApp(appId: string): Promise<GrantRow[]> {
    return this.db.query<GrantRow>(`SELECT ${COLUMNS} FROM app_grants WHERE app_id = $1 ORDER BY created_at, id`, [appId]);
  }
}
