import type { components } from '../../generated/openapi.ts';
import type { AuditOrigin } from '../observability/audit-catalog.ts';
import type { Scope } from './scopes.ts';

export type Principal = components['schemas']['Principal'];

/**
 * Who stands behind a bearer. It decides tenancy (docs/tokens.md): accounts are confined by
 * workspace membership, external subjects by grants, gateway service accounts by the
 * workspace in their token.
 */
export type SubjectKind = 'account' | 'external' | 'gateway';

/** Where the credential lives: a row of oauth_access_tokens or api_keys, or nowhere (a JWT). */
export type CredentialSource = 'oauth' | 'api_key' | 'jwt';

/**
 * Which of the four token sources a bearer is (docs/tokens.md), as metrics and traces name
 * it: a device-flow login of an account or of an external subject, an API key, or a JWT of
 * a federated or a gateway issuer.
 */
export type TokenSource = 'account_device' | 'external_device' | 'api_key' | 'jwt_federated' | 'jwt_gateway';

/**
 * The resolved caller of a bearer request: what every pipeline step and handler sees.
 * Every token source (opaque kinds, JWTs) produces one of these; nothing downstream
 * branches on where it came from.
 */
export interface AuthContext {
  subjectKind: SubjectKind;
  /** `tessera:account` for accounts; the IdP or JWT issuer otherwise. */
  issuer: string;
  /** The account id for accounts; the issuer's `sub` otherwise. */
  subject: string;
  email: string | null;
  /** Set for account subjects only. */
  accountId: string | null;
  scopes: Scope[];
  /** Null: does not expire. */
  expiresAtMs: number | null;
  /** What `GET /me` answers. */
  principal: Principal;
  source: CredentialSource;
  tokenSource: TokenSource;
  /** The credential's row id (opaque tokens); a stable id chosen by the strategy for JWTs. */
  tokenId: string;
  /**
   * The JWK SHA-256 thumbprint of the key the token is bound to (DPoP, RFC 9449): it is
   * accepted only as `Authorization: DPoP` with a proof signed by that key. Null: a bearer token.
   */
  dpopJkt: string | null;
  /** sha256 (hex) of the presented token: the identity cache key and the invalidation message. */
  tokenHash: string;
  /** sha256 (hex) the per-token rate limit counts: the token hash for opaque tokens, `(iss, sub)` for JWTs. */
  rateLimitKey: string;
  /** Gateway service accounts only: the one workspace whose apps they may reach. */
  workspaceConfinement: string | null;
  /** workspace id → is the caller a member; filled lazily, cached with the identity. */
  verifiedTenants: Record<string, boolean>;
}

/**
 * One source of bearer tokens behind the BearerAuthenticator, chosen by the token's shape
 * (docs/tokens.md, "Adding a token source"). The authenticator calls, in order:
 * `claims` (no I/O) → `identify` → the rate limit on `rateLimitKey` → `resolve` → expiry.
 */
export interface BearerStrategy {
  readonly name: string;
  /** Does the token have this strategy's shape? Pure and cheap: no store, no database, no network. */
  claims(token: string): boolean;
  /**
   * First phase: the key the rate limit counts. An opaque token is keyed by its hash before
   * anything is looked up (so unknown tokens are limited too); a JWT may verify first and key
   * by `(iss, sub)`. Throws ApiError 401 `invalid_token` for a token it refuses.
   * `clientAddress` gives the request's address (express `req.ip`), for limits on bad tokens;
   * it is a function because working it out (trusted proxies, X-Forwarded-For) is wasted on
   * the warm path, which never needs it.
   */
  identify(token: string, tokenHash: string, clientAddress: () => string): Promise<Identified> | Identified;
}

export interface Identified {
  /** What kind of bearer the strategy took the token for (known before the rate limit, so refusals are told apart too). */
  tokenSource: TokenSource;
  rateLimitKey: string;
  /** The rate-limit window's namespace (`rl:<namespace>:{<key>}`); `token` when unset. */
  rateLimitNamespace?: string;
  /** Second phase, after the rate limit admitted the request: cached context (returned as is), else storage. */
  resolve(): AuthContext | Promise<AuthContext>;
  /** Called when the resolved context has expired (before answering 401 token_expired). */
  expire(auth: AuthContext, origin: AuditOrigin): Promise<void>;
}
