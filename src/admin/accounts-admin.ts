import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { endConsoleSessions } from '../console/session.ts';
import { hashPassword } from '../console/signin.ts';
import type { Database } from '../storage/db.ts';
import { AccountRepo } from '../storage/repos/accounts.ts';
import { ConsoleSessionRepo } from '../storage/repos/console-sessions.ts';
import type { Store } from '../storage/store/index.ts';

/** The account with this email, or an error that names it (every admin command that takes --email). */
export async function accountByEmail(db: Database, email: string) {
  const account = await new AccountRepo(db).findByEmail(email);
  if (!account) throw new Error(`no account with email ${email}`);
  return account;
}

export interface PasswordReset {
  id: string;
  email: string;
  password: string;
  /** Console sessions of the account that were live and are now ended. */
  console_sessions_ended: number;
}

/**
 * A new generated password, and every console session of the account ended: a reset is
 * what someone does after a password or a session cookie was stolen, and a stolen cookie
 * (12 hours, and it can create API keys and approve device codes) must not outlive it.
 * The password changes first, so the old one cannot open a new session afterwards; the
 * sessions end in Postgres and then in the shared store (`store`, null without Redis), so
 * running servers refuse the cookies at once. Device tokens and API keys are left alone:
 * the account page signs devices out and revokes keys.
 */
export async function resetPassword(db: Database, cfg: Config, store: Store | null, log: Logger, email: string): Promise<PasswordReset> {
  const accounts = new AccountRepo(db);
  const account = await accountByEmail(db, email);
  const password = randomBytes(12).toString('base64url');
  await accounts.setPassword(account.id, await hashPassword(cfg, password));
  const ended = await endConsoleSessions(new ConsoleSessionRepo(db), store, log, account.id);
  return { id: account.id, email: account.email, password, console_sessions_ended: ended };
}
