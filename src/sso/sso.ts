import { serialize } from 'cookie';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { cookieName, singleCookie } from '../http/cookies.ts';
import type { Store } from '../storage/store/index.ts';
import { ApprovalGrants } from './approval-grant.ts';
import { OidcRelyingParty } from './oidc-rp.ts';
import { SsoStates, STATE_TTL_SECONDS } from './sso-state.ts';

export const CALLBACK_PATH = '/device/sso-complete';
/** On https `__Secure-tessera_sso_binding` (path-scoped, so `__Host-` is not possible). */
const BINDING_COOKIE = 'tessera_sso_binding';

/**
 * The external-SSO branch of the device flow (enterprise edition with SSO_OIDC_ISSUER set):
 * Tessera's OpenID client, the one-time sign-in states and the approval grants.
 */
export class Sso {
  readonly rp: OidcRelyingParty;
  readonly states: SsoStates;
  readonly grants: ApprovalGrants;
  readonly displayName: string;
  private readonly secure: boolean;
  private readonly bindingCookie: string;

  constructor(config: Config, store: Store, log: Logger) {
    if (!config.sso || !config.secretKey) throw new Error('sso: SSO_OIDC_ISSUER and SECRET_KEY are required');
    this.secure = config.publicUrl.startsWith('https:');
    this.bindingCookie = cookieName(BINDING_COOKIE, this.secure, '__Secure-');
    this.rp = new OidcRelyingParty(config.sso, config.ssoAllowInsecureHttp, `${config.publicUrl}${CALLBACK_PATH}`, log);
    this.states = new SsoStates(config.secretKey, store);
    this.grants = new ApprovalGrants(config.secretKey, store, this.secure);
    this.displayName = config.sso.displayName;
  }

  /** What the /device page shows: the button's label, and whether the provider answers now (else it retries). */
  pageView(): { display_name: string; ready: boolean } {
    if (!this.rp.ready) this.rp.nudge();
    return { display_name: this.displayName, ready: this.rp.ready };
  }

  /** Binds a sign-in to the browser that started it: only that browser can complete it. */
  setBinding(res: Response, value: string): void {
    res.append('Set-Cookie', serialize(this.bindingCookie, value, { httpOnly: true, sameSite: 'lax', secure: this.secure, path: CALLBACK_PATH, maxAge: STATE_TTL_SECONDS }));
  }

  /** The binding cookie, or undefined when it is missing or sent twice. */
  readBinding(req: Request): string | undefined {
    return singleCookie(req.get('cookie'), this.bindingCookie);
  }

  clearBinding(res: Response): void {
    res.append('Set-Cookie', serialize(this.bindingCookie, '', { httpOnly: true, sameSite: 'lax', secure: this.secure, path: CALLBACK_PATH, maxAge: 0 }));
  }
}

/** The SSO branch exists only in the enterprise edition with an issuer configured. */
export function ssoEnabled(config: Config): boolean {
  return config.edition === 'enterprise' && config.sso !== null;
}
