import type { Logger } from 'pino';
import type { AuditSink } from '../observability/audit.ts';
import type { InvalidatingCache } from '../auth/invalidating-cache.ts';
import type { TokenService } from '../auth/token-service.ts';
import { endConsoleSessions } from '../console/session.ts';
import type { Database } from '../storage/db.ts';
import { AccountRepo } from '../storage/repos/accounts.ts';
import { ApiKeyRepo } from '../storage/repos/api-keys.ts';
import { ConsoleSessionRepo } from '../storage/repos/console-sessions.ts';
import type { Store } from '../storage/store/index.ts';

/** What offboarding needs: the database, the token service (whose cache publishes to every replica), and the store that caches console-session verdicts. */
export interface OffboardingDeps {
  db: Database;
  tokens: TokenService;
  /** The identity cache the token service publishes to (API keys are dropped through it too). */
  cache: InvalidatingCache<unknown>;
  /** The shared store (null: none, as for `admin reset-password` without REDIS_URL). */
  store: Store | null;
  log: Logger;
  audit: AuditSink;
}

export interface DisabledAccount {
  account_id: string;
  email: string;
  /** False when it was disabled already (everything is ended again all the same). */
  newly_disabled: boolean;
  sessions_ended: number;
  api_keys_revoked: number;
  console_sessions_ended: number;
}

/**
 * Taking access away from a person (docs/enterprise.md, "Offboarding"). Everything ends in
 * Postgres first and is then published, so every replica refuses the tokens and cookies at
 * once: device sessions (access and refresh tokens), API keys, console sessions.
 */
export class Offboarding {
  private readonly accounts: AccountRepo;

  constructor(private readonly d: OffboardingDeps) {
    this.accounts = new AccountRepo(d.db);
  }

  /**
   * `admin disable-account`: the flag first, so no sign-in, device login or refresh can start
   * after this point (minting holds the account row, so one in flight finishes before the
   * sessions are ended and is ended with them); then everything the account holds.
   */
  async disableAccount(email: string): Promise<DisabledAccount> {
    const account = await this.accountByEmail(email);
    const newly = await this.accounts.setDisabled(account.id, true);
    const sessions = await this.d.tokens.revokeAllOf({ accountId: account.id }, 'account_disabled');
    const keys = await new ApiKeyRepo(this.d.db).revokeAllOf(account.id);
    await this.d.cache.invalidate(keys.map((k) => k.token_hash));
    for (const k of keys) this.d.audit('oauth.token_revoked', { token_id: k.id, subject: account.id, reason: 'account_disabled' });
    const consoleSessions = await endConsoleSessions(new ConsoleSessionRepo(this.d.db), this.d.store, this.d.log, account.id);
    const result = {
      account_id: account.id,
      email: account.email,
      newly_disabled: newly,
      sessions_ended: sessions.length,
      api_keys_revoked: keys.length,
      console_sessions_ended: consoleSessions,
    };
    this.d.audit('admin.disable-account', { subject: account.id, ...result });
    return result;
  }

  /** `admin enable-account`: sign-in works again; nothing that was ended comes back. */
  async enableAccount(email: string): Promise<{ account_id: string; email: string; newly_enabled: boolean }> {
    const account = await this.accountByEmail(email);
    const newly = await this.accounts.setDisabled(account.id, false);
    this.d.audit('admin.enable-account', { subject: account.id, newly_enabled: newly });
    return { account_id: account.id, email: account.email, newly_enabled: newly };
  }

  /** `admin revoke-subject`: every device session of an external subject (issuer, email). */
  async revokeSubject(issuer: string, email: string): Promise<{ issuer: string; email: string; sessions_ended: number }> {
    const ended = await this.d.tokens.revokeAllOf({ issuer, email }, 'subject_revoked');
    this.d.audit('admin.revoke-subject', { subject_issuer: issuer, subject: ended[0]?.subject_sub ?? null, sessions_ended: ended.length });
    return { issuer, email: email.toLowerCase(), sessions_ended: ended.length };
  }

  /** A verified back-channel logout (OpenID Connect Back-Channel Logout 1.0 §2.7): the sessions it names end. */
  async logoutAtIdp(request: { issuer: string; sub: string | null; sid: string | null; jti: string }): Promise<number> {
    const ended = await this.d.tokens.revokeIdpSessions(request.issuer, request, 'backchannel_logout');
    this.d.audit('sso.backchannel_logout', {
      subject_issuer: request.issuer,
      subject: request.sub,
      sid: request.sid,
      jti: request.jti,
      sessions_ended: ended.length,
    });
    return ended.length;
  }

  private async accountByEmail(email: string) {
    const account = await this.accounts.findByEmail(email);
    if (!account) throw new Error(`no account with email ${email}`);
    return account;
  }
}
