import { hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { SubjectKind, TokenSource } from './auth-context.ts';
import type { Scope } from './scopes.ts';

/**
 * Opaque token kinds (docs/tokens.md): prefix + 43 base64url chars (256 bits) + a
 * 6-char base62 CRC32 of everything before it. The checksum lets us reject typos
 * and foreign strings before any store or database lookup.
 */
export interface TokenKind {
  readonly prefix: string;
  readonly kind: 'account' | 'external' | 'api_key';
  /** The token source it is (metrics and traces). */
  readonly source: Extract<TokenSource, 'account_device' | 'external_device' | 'api_key'>;
  /** Whose token it is, which decides tenancy (membership or grants). */
  readonly subject: Extract<SubjectKind, 'account' | 'external'>;
  readonly table: 'oauth_access_tokens' | 'api_keys';
  /** Scopes stamped from the kind; null means "stored with the token". */
  readonly scopes: readonly Scope[] | null;
  /**
   * The edition that accepts it as a bearer. External subjects exist only in the enterprise
   * edition: a `tse_` token minted there is refused by a community server on the same database.
   */
  readonly edition: 'community' | 'enterprise';
}

const KINDS: readonly TokenKind[] = [
  { prefix: 'tsa_', kind: 'account', source: 'account_device', subject: 'account', table: 'oauth_access_tokens', scopes: ['full'], edition: 'community' },
  { prefix: 'tse_', kind: 'external', source: 'external_device', subject: 'external', table: 'oauth_access_tokens', scopes: ['apps:run', 'apps:read:permitted'], edition: 'enterprise' },
  { prefix: 'tsk_', kind: 'api_key', source: 'api_key', subject: 'account', table: 'api_keys', scopes: null, edition: 'community' },
];

/**
 * A refresh token (`tsr_`, docs/tokens.md): the same format, but never a bearer. It is
 * presented only to the token endpoint (grant_type=refresh_token) and the revocation
 * endpoint, and stored as a hash in the session's row (`refresh_token_hash`).
 */
export interface RefreshTokenKind {
  readonly prefix: 'tsr_';
  readonly kind: 'refresh';
  readonly table: 'oauth_access_tokens';
}

export const REFRESH_KIND: RefreshTokenKind = { prefix: 'tsr_', kind: 'refresh', table: 'oauth_access_tokens' };

/** Every prefix Tessera mints: the bearer kinds and the refresh kind. */
export type TokenPrefix = 'tsa_' | 'tse_' | 'tsk_' | 'tsr_';

/** The kinds an edition accepts as bearers: the community edition `tsa_` and `tsk_`, the enterprise edition `tse_` too. */
export const kindsFor = (edition: TokenKind['edition']): readonly TokenKind[] =>
  edition === 'enterprise' ? KINDS : KINDS.filter((k) => k.edition === 'community');

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY = /^[A-Za-z0-9_-]{43}$/;

function base62(n: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = B62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function checksum(text: string): string {
  return base62(crc32(text) >>> 0, 6);
}

export function kindByPrefix(prefix: string): TokenKind | undefined {
  return KINDS.find((k) => k.prefix === prefix);
}

const kindOrRefresh = (prefix: string): TokenKind | RefreshTokenKind | undefined => (prefix === REFRESH_KIND.prefix ? REFRESH_KIND : kindByPrefix(prefix));

export function generateToken(prefix: TokenPrefix): string {
  const head = prefix + randomBytes(32).toString('base64url');
  return head + checksum(head);
}

/** The kind of any well-formed token of ours with a valid checksum (a refresh token included), or null. Never touches storage. */
export function parseAnyToken(token: string): TokenKind | RefreshTokenKind | null {
  if (token.length !== 53) return null;
  const kind = kindOrRefresh(token.slice(0, 4));
  if (!kind) return null;
  const body = token.slice(4, 47);
  if (!BODY.test(body)) return null;
  return checksum(token.slice(0, 47)) === token.slice(47) ? kind : null;
}

/** The bearer kind of a well-formed token with a valid checksum, or null (a refresh token is no bearer). */
export function parseToken(token: string): TokenKind | null {
  const kind = parseAnyToken(token);
  return kind && kind.kind !== 'refresh' ? kind : null;
}

/** A well-formed `tsr_` refresh token with a valid checksum. */
export const isRefreshToken = (token: string): boolean => parseAnyToken(token)?.kind === 'refresh';

/** sha256 hex; one-shot `crypto.hash` (no Hash object per request: every bearer request hashes its token). */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}
