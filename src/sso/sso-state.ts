// RFC 6749 §10.12 (CSRF and the `state` parameter) and OIDC Core §3.1.2.1 (`nonce`):
// one-time state of one SSO sign-in, bound to the device code and to the browser.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Store, StoreScript } from '../storage/store/index.ts';
import { hashToken } from '../auth/token-kinds.ts';
import { derivedKey } from '../auth/derived-key.ts';
import type { AuthorizationChecks } from './oidc-rp.ts';

export const STATE_TTL_SECONDS = 10 * 60;
const ISSUER = 'tessera:sso-state';

export interface SsoState extends AuthorizationChecks {
  /** sha256 of the device code this sign-in will approve or deny. */
  deviceHash: string;
  /** sha256 of the browser-binding cookie set when the sign-in started. */
  bindingHash: string;
}

const stateKey = (id: string) => `sso:state:{${id}}`;

/** GET and DEL in one step, so a state is consumed exactly once across replicas. */
export const takeScript: StoreScript<string | null> = {
  name: 'sso_take_v1',
  lua: `local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return cjson.encode(v or cjson.null)`,
  memory(kv, keys) {
    const v = kv.get<string>(keys[0]!);
    if (typeof v !== 'string') return null;
    kv.del(keys[0]!);
    return v;
  },
};

export type TakeResult = { ok: true; state: SsoState } | { ok: false; reason: 'invalid' | 'used_or_expired' | 'other_browser' };

/**
 * The `state` sent to the IdP is a JWS (HS256, SECRET_KEY) of a random id; the checks it
 * stands for (device code, PKCE verifier, nonce, browser binding) stay in the store for
 * ten minutes and are taken once.
 */
export class SsoStates {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly store: Store,
  ) {
    this.key = derivedKey(secret, 'sso-state');
  }

  /** Stores the state; returns the `state` parameter and the browser-binding cookie value. */
  async create(deviceHash: string, checks: AuthorizationChecks): Promise<{ state: string; binding: string }> {
    const id = randomBytes(16).toString('base64url');
    const binding = randomBytes(32).toString('base64url');
    const record: SsoState = { ...checks, deviceHash, bindingHash: hashToken(binding) };
    await this.store.set(stateKey(id), JSON.stringify(record), STATE_TTL_SECONDS * 1000);
    const state = await new SignJWT({ sid: id })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${STATE_TTL_SECONDS}s`)
      .sign(this.key);
    return { state, binding };
  }

  /** Verifies and consumes a `state`: forged, expired, replayed or from another browser → not ok. */
  async take(state: unknown, binding: string | undefined): Promise<TakeResult> {
    if (typeof state !== 'string' || state.length > 1000) return { ok: false, reason: 'invalid' };
    let sid: unknown;
    try {
      ({ payload: { sid } } = await jwtVerify(state, this.key, { issuer: ISSUER, algorithms: ['HS256'] }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return { ok: false, reason: err instanceof joseErrors.JWTExpired ? 'used_or_expired' : 'invalid' };
      throw err;
    }
    if (typeof sid !== 'string') return { ok: false, reason: 'invalid' };
    const raw = await this.store.run(takeScript, [stateKey(sid)]);
    if (!raw) return { ok: false, reason: 'used_or_expired' };
    const record = JSON.parse(raw) as SsoState;
    const sent = Buffer.from(hashToken(binding ?? ''), 'hex');
    const expected = Buffer.from(record.bindingHash, 'hex');
    if (!binding || sent.length !== expected.length || !timingSafeEqual(sent, expected)) return { ok: false, reason: 'other_browser' };
    return { ok: true, state: record };
  }
}
