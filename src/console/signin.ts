import argon2 from 'argon2';
import { RateLimiter } from '../auth/rate-limit.ts';
import type { Config } from '../config.ts';
import { clientKey } from '../limits/client-key.ts';
import type { Services } from '../services.ts';

// Attempts per window come from config (CONSOLE_SIGNIN_ATTEMPTS, default 10 per client address and
// email; CONSOLE_SIGNIN_ATTEMPTS_PER_IP, default 50 across emails, so one address cannot spray
// passwords over many accounts or keep argon2 busy). An IPv6 client counts as its /64 (clientKey).
const WINDOW_MS = 15 * 60_000;

export type SigninResult =
  | { ok: true; account: { id: string; email: string; name: string } }
  | { ok: false; reason: 'invalid_credentials' }
  /** The password was right, but the account is disabled (`admin disable-account`). */
  | { ok: false; reason: 'disabled' }
  | { ok: false; reason: 'rate_limited'; retryAfterMs: number };

/** Hashes a console password at the configured argon2id cost (PASSWORD_HASH_*). */
export function hashPassword(config: Config, password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id, ...config.passwordHash });
}

// One dummy hash per cost, made on first use: verifying against it costs what a real account costs.
const dummyHashes = new Map<string, Promise<string>>();
function dummyHash(config: Config): Promise<string> {
  const key = `${config.passwordHash.memoryCost}:${config.passwordHash.timeCost}`;
  let hash = dummyHashes.get(key);
  if (!hash) dummyHashes.set(key, (hash = hashPassword(config, 'tessera-dummy-password')));
  return hash;
}

/**
 * Password sign-in for the console. Unknown emails are checked against a dummy
 * hash so that the answer takes the same time either way (no account enumeration).
 */
export class SigninService {
  private readonly limiter: RateLimiter;

  constructor(private readonly s: Services) {
    this.limiter = new RateLimiter(s.store, s.config.consoleSignin.attempts);
  }

  /** `clientAddress` is the request's (express `req.ip`). */
  async signin(clientAddress: string | undefined, email: string, password: string): Promise<SigninResult> {
    const normalized = email.trim().toLowerCase();
    const ip = clientKey(clientAddress);
    const perIp = await this.limiter.hitKey('console-signin-ip', ip, this.s.config.consoleSignin.attemptsPerIp, WINDOW_MS);
    if (!perIp.allowed) return { ok: false, reason: 'rate_limited', retryAfterMs: Math.max(1_000, perIp.resetMs) };
    const limit = await this.limiter.hitKey('console-signin', `${ip}\n${normalized}`, this.s.config.consoleSignin.attempts, WINDOW_MS);
    if (!limit.allowed) return { ok: false, reason: 'rate_limited', retryAfterMs: Math.max(1_000, limit.resetMs) };
    const account = await this.s.accounts.findByEmail(normalized);
    const hash = account?.password_hash ?? (await dummyHash(this.s.config));
    const ok = await argon2.verify(hash, password).catch(() => false);
    if (!ok || !account?.password_hash) return { ok: false, reason: 'invalid_credentials' };
    // Said only to someone who knew the password: whether an account exists stays unknown to everyone else.
    if (account.disabled_at) return { ok: false, reason: 'disabled' };
    return { ok: true, account: { id: account.id, email: account.email, name: account.name } };
  }
}
