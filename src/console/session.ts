import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse, serialize } from 'cookie';
import type { Request, Response } from 'express';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Config } from '../config.ts';
import { perServices } from '../services.ts';
import type { Store } from '../storage/store/index.ts';

export const SESSION_COOKIE = 'tessera_session';
const SESSION_TTL_SECONDS = 12 * 3600;
const ISSUER = 'tessera:console';

export interface ConsoleSession {
  accountId: string;
  sid: string;
  expiresAtMs: number;
}

const signedOutKey = (sid: string) => `console:signedout:{${sid}}`;

/**
 * Console sessions are JWS cookies (HS256, SECRET_KEY), so any replica can read
 * them without a lookup; sign-out is recorded in the store for the rest of the
 * cookie's life so a copied cookie dies with the session. The CSRF token is an
 * HMAC of the session id: nothing to store, and it changes with every sign-in.
 */
export class ConsoleSessions {
  private readonly key: Uint8Array;
  private readonly csrfKey: Buffer;
  private readonly secure: boolean;

  constructor(
    config: Config,
    private readonly store: Store,
  ) {
    if (!config.secretKey) throw new Error('SECRET_KEY is required for console sessions');
    this.key = createHash('sha256').update(`cookie:${config.secretKey}`).digest();
    this.csrfKey = createHash('sha256').update(`csrf:${config.secretKey}`).digest();
    this.secure = config.publicUrl.startsWith('https:');
  }

  async issue(res: Response, accountId: string): Promise<ConsoleSession> {
    const sid = randomBytes(16).toString('base64url');
    const expiresAtMs = Date.now() + SESSION_TTL_SECONDS * 1000;
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

  /** The caller's live session, or null (no cookie, bad signature, expired or signed out). */
  async read(req: Request): Promise<ConsoleSession | null> {
    const header = req.get('cookie');
    if (!header) return null;
    const jws = parse(header)[SESSION_COOKIE];
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
    if (await this.store.get(signedOutKey(sid))) return null;
    return { accountId: payload.sub, sid, expiresAtMs: payload.exp * 1000 };
  }

  async revoke(res: Response, session: ConsoleSession | null): Promise<void> {
    if (session) await this.store.set(signedOutKey(session.sid), '1', Math.max(1_000, session.expiresAtMs - Date.now()));
    res.append('Set-Cookie', this.cookie('', 0));
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

  private cookie(value: string, maxAge: number): string {
    return serialize(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'lax', secure: this.secure, path: '/', maxAge });
  }
}

/** One instance per app (shared by the console router and the approve/deny endpoints). */
export const consoleSessionsFor = perServices((s) => new ConsoleSessions(s.config, s.store));
