// OpenID Connect Core 1.0 §3.1 (authorization code flow) and Discovery 1.0 §4, as a relying
// party, with PKCE S256 (RFC 7636). Every check is openid-client's; nothing is validated by hand.
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import type { SsoConfig } from '../config.ts';

/** What the IdP vouched for after a successful code exchange. */
export interface VerifiedClaims {
  issuer: string;
  sub: string;
  email: string | undefined;
  emailVerified: unknown;
  name: string | undefined;
  /** The IdP's session (`sid`, OIDC Front- and Back-Channel Logout), when the ID token names one. */
  sid: string | undefined;
}

/** The one-time values an authorization request is bound to. */
export interface AuthorizationChecks {
  codeVerifier: string;
  nonce: string;
}

/** The IdP refused or failed, or its answer did not verify; `reason` is for the log, never the page. */
export class SsoVerificationError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const DISCOVERY_TIMEOUT_SECONDS = 5;
const EXCHANGE_TIMEOUT_SECONDS = 10;

/**
 * Tessera's client at the company IdP. Discovery runs at start; when the provider cannot
 * be reached the server keeps running without it (the SSO button says "temporarily
 * unavailable") and discovery is retried in the background and on demand.
 */
export class OidcRelyingParty {
  private config: oidc.Configuration | null = null;
  private attempt: Promise<void> | null = null;
  private lastAttemptMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    readonly settings: SsoConfig,
    private readonly insecureHttp: boolean,
    readonly redirectUri: string,
    private readonly log: Logger,
  ) {}

  get ready(): boolean {
    return this.config !== null;
  }

  /** One discovery attempt now; later ones are scheduled while it fails. Never throws. */
  start(): Promise<void> {
    return this.discover();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The discovered configuration, retrying discovery now when the last attempt is old enough; null when unavailable. */
  async configuration(): Promise<oidc.Configuration | null> {
    if (!this.config && Date.now() - this.lastAttemptMs >= Math.min(this.settings.discoveryRetryMs, 5_000)) await this.discover();
    return this.config;
  }

  /** Resolves when the IdP serves its discovery document now (within `timeoutMs`), rejects otherwise: a liveness probe. */
  async answer(timeoutMs: number): Promise<void> {
    const url = `${this.settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => undefined);
    if (!res.ok) throw new Error(`the IdP answered ${res.status}`);
  }

  /** Starts a retry in the background if one is due (the /device page asks while showing "unavailable"). */
  nudge(): void {
    void this.configuration();
  }

  private discover(): Promise<void> {
    this.attempt ??= this.discoverOnce().finally(() => (this.attempt = null));
    return this.attempt;
  }

  private async discoverOnce(): Promise<void> {
    if (this.config || this.stopped) return;
    this.lastAttemptMs = Date.now();
    const { issuer, clientId, clientSecret } = this.settings;
    try {
      this.config = await oidc.discovery(
        new URL(issuer),
        clientId,
        { redirect_uris: [this.redirectUri], response_types: ['code'] },
        clientSecret ? oidc.ClientSecretPost(clientSecret) : oidc.None(),
        { execute: this.insecureHttp ? [oidc.allowInsecureRequests] : [], timeout: DISCOVERY_TIMEOUT_SECONDS },
      );
      // A slow IdP must not hold a sign-in page for openid-client's default 30 s.
      this.config.timeout = EXCHANGE_TIMEOUT_SECONDS;
      if (this.timer) clearTimeout(this.timer);
      this.log.info({ issuer }, 'sso: OpenID provider discovered');
    } catch (err) {
      this.log.warn({ issuer, err: (err as Error).message, retry_in_ms: this.settings.discoveryRetryMs }, 'sso: OpenID provider unavailable; SSO sign-in is off until it answers');
      if (this.timer) clearTimeout(this.timer);
      if (!this.stopped) this.timer = setTimeout(() => void this.discover(), this.settings.discoveryRetryMs).unref();
    }
  }

  /** Fresh one-time PKCE verifier and nonce for one authorization request. */
  static newChecks(): AuthorizationChecks {
    return { codeVerifier: oidc.randomPKCECodeVerifier(), nonce: oidc.randomNonce() };
  }

  /** The IdP's authorization endpoint for a code flow request (OIDC Core §3.1.2.1). */
  async authorizationUrl(config: oidc.Configuration, checks: AuthorizationChecks, state: string): Promise<URL> {
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      response_type: 'code',
      scope: this.settings.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce: checks.nonce,
    });
  }

  /**
   * OIDC Core §3.1.3: exchanges the code and validates the ID token (signature, `iss`,
   * `aud`, `nonce`, `exp`, `iat`) with openid-client; the callback's `state` (and RFC 9207
   * `iss`) too. Email claims come from the ID token, else from the UserInfo endpoint
   * (§5.3, whose `sub` must match).
   */
  async exchange(config: oidc.Configuration, callbackUrl: URL, checks: AuthorizationChecks, state: string): Promise<VerifiedClaims> {
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedNonce: checks.nonce,
        expectedState: state,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      let source: Record<string, unknown> = claims;
      if (claims.email === undefined) source = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      return {
        issuer: claims.iss,
        sub: claims.sub,
        email: typeof source.email === 'string' ? source.email : undefined,
        emailVerified: source.email_verified,
        name: typeof source.name === 'string' ? source.name : typeof claims.name === 'string' ? claims.name : undefined,
        sid: typeof claims.sid === 'string' ? claims.sid : undefined,
      };
    } catch (err) {
      throw new SsoVerificationError(describe(err));
    }
  }
}

/** openid-client wraps oauth4webapi's errors; the specific check (claim, code, message) is down the cause chain. */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { code?: unknown; error?: unknown; message?: unknown; claim?: unknown; cause?: unknown } | undefined, i = 0; e && typeof e === 'object' && i < 4; e = e.cause as typeof e, i++) {
    for (const v of [e.code, e.error, e.message]) if (typeof v === 'string' && !parts.includes(v)) parts.push(v);
    if (typeof e.claim === 'string') parts.push(`claim ${e.claim}`);
  }
  return parts.join(': ') || 'unknown error';
}
