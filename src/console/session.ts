import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { serialize } from 'cookie';
import type { Request, Response } from 'express';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { perServices } from '../services.ts';
import { ConsoleSessionRepo } from '../storage/repos/console-sessions.ts';
import { StoreUnavailableError, type Store } from '../storage/store/index.ts';
import { derivedKey } from '../auth/derived-key.ts';
import { hashToken } from '../auth/token-kinds.ts';
import { cookieName, singleCookie } from '../http/cookies.ts';

/** The session cookie's name on http; on https it is `__Host-tessera_session` (see cookieName). */
export const SESSION_COOKIE = 'tessera_session';
const SESSION_TTL_SECONDS = 12 * 3600;
const ISSUER = 'tessera:console';

export interface ConsoleSession {
  accountId: string;
  sid: string;
  expiresAtMs: number;
}

/** How long the store may answer for Postgres that a session is live; a sign-out overwrites it at once. */
const LIVE_CACHE_MS = 60_000;
const LIVE = 'live';
const REVOKED = 'revoked';

const cacheKey = (hash: string) => `console:session:{${hash}}`;

/**
 * Console sessions are JWS cookies (HS256, SECRET_KEY) whose signature any replica
 * checks without a lookup. Whether the session is still live is kept in Postgres
 * (sign-out must survive a store that restarts empty) and cached in the shared
 * store, so a warm read costs one store round trip and a sign-out is seen by every
 * replica at once. Without the store, reads ask Postgres. The CSRF token is an HMAC
 * of the session id: nothing to store, and it changes with every sign-in.
 */
export class ConsoleSessions {
  private readonly key: Uint8Array;
  private readonly csrfKey: Buffer;
  private readonly secure: boolean;
  private readonly name: string;
  private readonly cachesLive: boolean;

  constructor(
    config: Config,
    private readonly store: Store,
    private readonly repo: ConsoleSessionRepo,
    private readonly log: Logger,
  ) {
    if (!config.secretKey) throw new Error('SECRET_KEY is required for console sessions');
    this.key = derivedKey(config.secretKey, 'cookie');
    this.csrfKey = derivedKey(config.secretKey, 'csrf');
    this.secure = config.publicUrl.startsWith('https:');
    this.name = cookieName(SESSION_COOKIE, this.secure, '__Host-');
    // The in-process store is this process's alone: it would never hear of a session ended by
    // another process (`admin reset-password`), so it caches only `revoked` verdicts and a live
    // session is asked of Postgres on every read (one replica, and no hot path, so that is cheap).
    this.cachesLive = store.kind !== 'memory';
  }

  async issue(res: Response, accountId: string): Promise<ConsoleSession> {
    const sid = randomBytes(16).toString('base64url');
    const expiresAtMs = Date.now() + SESSION_TTL_SECONDS * 1000;
    const hash = hashToken(sid);
    await this.repo.create(hash, accountId, new Date(expiresAtMs));
    if (this.cachesLive) await this.store.set(cacheKey(hash), LIVE, LIVE_CACHE_MS).catch(() => undefined);
    const jws = await new SignJWT({ sid })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setSubject(accountId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAtMs / 1000))
      .sign(this.key);
    res.append('Set-Cookie', this.cookie(jws, SESSION_TTL_SECONDS));
    return { accountId, sid, expiresAtMs };
  }

  /** The caller's live session, or null (no cookie or two of them, bad signature, expired or signed out). */
  async read(req: Request): Promise<ConsoleSession | null> {
    const jws = singleCookie(req.get('cookie'), this.name);
    if (!jws || jws.length > 2048) return null;
    let payload;
    try {
      ({ payload } = await jwtVerify(jws, this.key, { issuer: ISSUER, algorithms: ['HS256'] }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return null;
      throw err;
    }
    const sid = payload.sid;
    if (typeof sid !== 'string' || typeof payload.sub !== 'string' || typeof payload.exp !== 'number') return null;
    const expiresAtMs = payload.exp * 1000;
    if (!(await this.isLive(hashToken(sid), expiresAtMs))) return null;
    return { accountId: payload.sub, sid, expiresAtMs };
  }

  /** Signs out: recorded in Postgres first (a failure there is a 503 and the cookie stays), then in the cache. */
  async revoke(res: Response, session: ConsoleSession | null): Promise<void> {
    if (session) {
      const hash = hashToken(session.sid);
      await this.repo.revoke(hash);
      await cacheRevoked(this.store, this.log, [{ id: hash, expires_at: new Date(session.expiresAtMs) }]);
    }
    res.append('Set-Cookie', this.cookie('', 0));
  }

  /**
   * "Sign out everywhere": ends every other console session of the account, on every
   * replica at once. The browser that asks stays signed in (it has its own sign-out
   * button, and a user who just pressed this wants to see the result). Returns how many ended.
   */
  async revokeOthers(keep: ConsoleSession): Promise<number> {
    return endConsoleSessions(this.repo, this.store, this.log, keep.accountId, hashToken(keep.sid));
  }

  csrfToken(session: ConsoleSession): string {
    return createHmac('sha256', this.csrfKey).update(session.sid).digest('base64url');
  }

  /** Constant-time comparison of the X-CSRF-Token header with the session's token. */
  checkCsrf(req: Request, session: ConsoleSession): boolean {
    const sent = Buffer.from(req.get('x-csrf-token') ?? '', 'utf8');
    const expected = Buffer.from(this.csrfToken(session), 'utf8');
    return sent.length === expected.length && timingSafeEqual(sent, expected);
  }

  private async isLive(hash: string, expiresAtMs: number): Promise<boolean> {
    let cached: string | null = null;
    let storeUp = true;
    try {
      cached = await this.store.get(cacheKey(hash));
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      storeUp = false;
    }
    if (cached === LIVE || cached === REVOKED) return cached === LIVE;
    const live = await this.repo.isLive(hash);
    if (storeUp && (this.cachesLive || !live)) {
      // Only if absent: a sign-out written meanwhile must not be overwritten by this older answer.
      const ttl = live ? Math.min(LIVE_CACHE_MS, expiresAtMs - Date.now()) : expiresAtMs - Date.now();
      await this.store.setIfAbsent(cacheKey(hash), live ? LIVE : REVOKED, Math.max(1_000, ttl)).catch(() => undefined);
    }
    return live;
  }

  private cookie(value: string, maxAge: number): string {
    // No Domain, Path=/ and Secure on https: what the `__Host-` prefix requires.
    return serialize(this.name, value, { httpOnly: true, sameSite: 'lax', secure: this.secure, path: '/', maxAge });
  }
}

/** Writes `revoked` over any cached `live` verdict of these sessions, for as long as each could live. */
async function cacheRevoked(store: Store | null, log: Logger, ended: { id: string; expires_at: Date }[]): Promise<void> {
  if (!store) return;
  const now = Date.now();
  const results = await Promise.allSettled(ended.map((e) => store.set(cacheKey(e.id), REVOKED, Math.max(1_000, e.expires_at.getTime() - now))));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    // Postgres has it; a cached `live` verdict, if the store kept one, lapses within LIVE_CACHE_MS.
    log.warn({ err: String(failed.reason), sessions: ended.length }, 'console sign-out not cached in the store; Postgres has it');
  }
}

/**
 * Ends the account's live console sessions, all of them or all but `keepIdHash`: Postgres
 * first (a failure there throws and nothing is claimed), then a `revoked` verdict in the
 * store for each, so every replica refuses them at once, as a sign-out does. Needs no
 * SECRET_KEY, so `admin reset-password` calls it with its own connection to the store
 * (none without Redis: servers on the in-process store do not cache live verdicts).
 */
export async function endConsoleSessions(repo: ConsoleSessionRepo, store: Store | null, log: Logger, accountId: string, keepIdHash: string | null = null): Promise<number> {
  const ended = await repo.revokeAllOf(accountId, keepIdHash);
  await cacheRevoked(store, log, ended);
  return ended.length;
}

/** One instance per app (shared by the console router and the approve/deny endpoints). */
export const consoleSessionsFor = perServices((s) => new ConsoleSessions(s.config, s.store, new ConsoleSessionRepo(s.db), s.log));
