import type { AuditOrigin } from '../observability/audit-catalog.ts';
import { perServices, type Services } from '../services.ts';
import { SessionRepo, type SessionRow } from '../storage/repos/sessions.ts';

export function sessionView(r: SessionRow) {
  return {
    id: r.id,
    client_id: r.client_id,
    device_label: r.device_label,
    created_at: r.created_at.toISOString(),
    last_used_at: r.last_used_at?.toISOString() ?? null,
    last_refreshed_at: r.last_refreshed_at?.toISOString() ?? null,
    expires_at: r.expires_at.toISOString(),
  };
}

/**
 * The devices logged in to an account (its live device-flow tokens). Signing a
 * device out revokes its token and drops the cached identity on every replica.
 */
export class DeviceSessions {
  private readonly repo: SessionRepo;

  constructor(private readonly s: Services) {
    this.repo = new SessionRepo(s.db);
  }

  list(accountId: string, limit: number, offset: number) {
    return this.repo.listLive({ accountId }, limit, offset);
  }

  signOut(accountId: string, id: string, origin: AuditOrigin = {}): Promise<boolean> {
    return this.s.tokens.revokeById({ accountId }, id, 'session_revoked', origin);
  }

  /** Every device at once ("sign out everywhere"); API keys are not devices and keep working. */
  async signOutAll(accountId: string, origin: AuditOrigin = {}): Promise<number> {
    return (await this.s.tokens.revokeAllOf({ accountId }, 'signed_out_everywhere', origin)).length;
  }
}

export const deviceSessionsFor = perServices((s) => new DeviceSessions(s));
