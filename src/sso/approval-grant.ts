// The approval grant of the external-SSO branch: after the IdP vouched for a subject, the
// browser holds a short-lived, one-time JWS cookie that lets it approve or deny one device code.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { serialize } from 'cookie';
import type { Request, Response } from 'express';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { ExternalSubject } from '../auth/token-service.ts';
import { cookieName, singleCookie } from '../http/cookies.ts';
import type { Store } from '../storage/store/index.ts';
import { derivedKey } from '../auth/derived-key.ts';

/** The cookie's name on http; on https `__Secure-tessera_approval_grant` (path-scoped, so `__Host-` is not possible). */
export const GRANT_COOKIE = 'tessera_approval_grant';
export const GRANT_PATH = '/openapi/v1/oauth/device';
const GRANT_TTL_SECONDS = 5 * 60;
const ISSUER = 'tessera:approval-grant';

export interface ApprovalGrant {
  jti: string;
  /** sha256 of the device code it may approve or deny. */
  deviceHash: string;
  /** The user code (normalised) that code is shown as. */
  userCode: string;
  subject: ExternalSubject;
}

const usedKey = (jti: string) => `sso:grant-used:{${jti}}`;

export class ApprovalGrants {
  private readonly key: Uint8Array;
  private readonly csrfKey: Buffer;
  private readonly name: string;

  constructor(
    secret: string,
    private readonly store: Store,
    private readonly secure: boolean,
  ) {
    this.name = cookieName(GRANT_COOKIE, secure, '__Secure-');
    this.key = derivedKey(secret, 'approval-grant');
    this.csrfKey = derivedKey(secret, 'approval-grant-csrf');
  }

  /** Sets the cookie (HttpOnly, SameSite=Lax, Secure and `__Secure-` on https, 5 minutes, only sent to the device endpoints). */
  async issue(res: Response, grant: Omit<ApprovalGrant, 'jti'>): Promise<void> {
    const s = grant.subject;
    const jws = await new SignJWT({ dch: grant.deviceHash, uc: grant.userCode, s_iss: s.issuer, s_sub: s.sub, s_sid: s.sid ?? null, email: s.email, name: s.name })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setJti(randomBytes(16).toString('base64url'))
      .setIssuedAt()
      .setExpirationTime(`${GRANT_TTL_SECONDS}s`)
      .sign(this.key);
    res.append('Set-Cookie', this.cookie(jws, GRANT_TTL_SECONDS));
  }

  /** The grant in the request's cookie (one of that name), if it verifies, is unexpired and was not used yet. */
  async read(req: Request): Promise<ApprovalGrant | null> {
    const jws = singleCookie(req.get('cookie'), this.name);
    if (!jws || jws.length > 4096) return null;
    let p;
    try {
      ({ payload: p } = await jwtVerify(jws, this.key, { issuer: ISSUER, algorithms: ['HS256'] }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return null;
      throw err;
    }
    const fields = [p.jti, p.dch, p.uc, p.s_iss, p.s_sub, p.email];
    if (!fields.every((f) => typeof f === 'string')) return null;
    if (await this.store.get(usedKey(p.jti!))) return null;
    const name = typeof p.name === 'string' ? p.name : null;
    const sid = typeof p.s_sid === 'string' ? p.s_sid : null;
    return {
      jti: p.jti!,
      deviceHash: p.dch as string,
      userCode: p.uc as string,
      subject: { issuer: p.s_iss as string, sub: p.s_sub as string, email: p.email as string, name, sid },
    };
  }

  /** Marks the grant used; false when another request used it first (one-time across replicas). */
  consume(grant: ApprovalGrant): Promise<boolean> {
    return this.store.setIfAbsent(usedKey(grant.jti), '1', GRANT_TTL_SECONDS * 1000);
  }

  clear(res: Response): void {
    res.append('Set-Cookie', this.cookie('', 0));
  }

  /** The grant's CSRF token: an HMAC of its one-time id, so it dies with the grant. */
  csrfToken(grant: ApprovalGrant): string {
    return createHmac('sha256', this.csrfKey).update(grant.jti).digest('base64url');
  }

  checkCsrf(req: Request, grant: ApprovalGrant): boolean {
    const sent = Buffer.from(req.get('x-csrf-token') ?? '', 'utf8');
    const expected = Buffer.from(this.csrfToken(grant), 'utf8');
    return sent.length === expected.length && timingSafeEqual(sent, expected);
  }

  private cookie(value: string, maxAge: number): string {
    return serialize(this.name, value, { httpOnly: true, sameSite: 'lax', secure: this.secure, path: GRANT_PATH, maxAge });
  }
}
