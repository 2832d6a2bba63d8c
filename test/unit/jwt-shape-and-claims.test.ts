import { describe, expect, it } from 'vitest';
import { checkCompactShape, JWT_LIMITS, looksLikeJwt } from '../../src/auth/jwt/compact-shape.ts';
import { identityFromClaims, rateLimitKey } from '../../src/auth/jwt/identity.ts';
import { validateTrustedIssuers } from '../../src/auth/jwt/trusted-issuers.ts';
import { generateToken } from '../../src/auth/token-kinds.ts';

const seg = (n: number) => 'A'.repeat(n);

describe('JWT shape check (no decoding)', () => {
  it('when a bearer is an opaque Tessera token, then it does not take the JWT path; a dotted one does', () => {
    for (const prefix of ['tsa_', 'tse_', 'tsk_'] as const) expect(looksLikeJwt(generateToken(prefix))).toBe(false);
    expect(looksLikeJwt('app-123')).toBe(false);
    expect(looksLikeJwt('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe(true);
    expect(looksLikeJwt('a.b.c.d')).toBe(true);
  });

  it('when a token has three base64url segments within the caps, then the shape passes (an empty signature included)', () => {
    expect(checkCompactShape('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBeNull();
    expect(checkCompactShape('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')).toBeNull();
    expect(checkCompactShape(`${seg(JWT_LIMITS.header)}.${seg(JWT_LIMITS.token - JWT_LIMITS.header - 2)}.`)).toBeNull();
  });

  it.each([
    ['the whole token over its cap', `${seg(10)}.${seg(10)}.${seg(JWT_LIMITS.token)}`, 'too_large', /^token longer/],
    ['a header over its cap', `${seg(JWT_LIMITS.header + 1)}.${seg(10)}.${seg(10)}`, 'too_large', /^header longer/],
    ['a payload over its cap', `${seg(10)}.${seg(JWT_LIMITS.payload + 1)}.${seg(10)}`, 'too_large', /^payload longer/],
    ['a signature over its cap', `${seg(10)}.${seg(10)}.${seg(JWT_LIMITS.signature + 1)}`, 'too_large', /^signature longer/],
    ['two segments', `${seg(10)}.${seg(10)}`, 'malformed', /got 2$/],
    ['four segments', `${seg(10)}.${seg(10)}.${seg(10)}.${seg(10)}`, 'malformed', /got 4$/],
    ['an empty header', `.${seg(10)}.${seg(10)}`, 'malformed', /empty header or payload/],
    ['an empty payload', `${seg(10)}..${seg(10)}`, 'malformed', /empty header or payload/],
    ['padding', `${seg(10)}==.${seg(10)}.${seg(10)}`, 'malformed', /not base64url/],
    ['standard base64 characters', `${seg(10)}.${seg(9)}+/.${seg(10)}`, 'malformed', /not base64url/],
    ['whitespace', `${seg(10)}.${seg(10)} .${seg(10)}`, 'malformed', /not base64url/],
  ])('when a token has %s, then the shape is refused', (_name, token, reason, detail) => {
    const problem = checkCompactShape(token);
    expect(problem?.reason).toBe(reason);
    expect(problem?.detail).toMatch(detail);
  });

  it('when a token is far over the cap, then it is refused by its length alone', () => {
    // 64 MiB of dots would make a huge split; the length check must come first.
    expect(checkCompactShape('.'.repeat(64 * 1024 * 1024))).toEqual({ reason: 'too_large', detail: `token longer than ${JWT_LIMITS.token} characters` });
  });
});

const WS = '0B6C2A4E-2F0E-4B8E-9C3A-6F1D2E3A4B5C';
const OTHER_WS = '7d1e0c52-95d7-4e8b-a0a3-5d2c7b9e8f10';
const [federated, gateway, listedGateway, unverifiedIdp, customVerifiedIdp] = validateTrustedIssuers(
  [
    { issuer: 'https://idp.test', kind: 'federated', jwks_uri: 'https://idp.test/jwks', audience: 'tessera', allowed_scopes: ['apps:read:permitted', 'apps:run'] },
    { issuer: 'gw', kind: 'gateway', jwks_uri: 'https://gw.test/jwks', audience: 'tessera', subject_claim: 'client_id', scope_claim: 'scp', allowed_scopes: ['apps:read', 'apps:run'] },
    { issuer: 'gw-listed', kind: 'gateway', jwks_uri: 'https://gw.test/jwks', audience: 'tessera', workspaces: [WS], allowed_scopes: ['apps:run'] },
    { issuer: 'https://idp.verified-only', kind: 'federated', jwks_uri: 'https://idp.test/jwks', audience: 'tessera', email_verified_claim: null, allowed_scopes: ['apps:run'] },
    { issuer: 'https://idp.custom', kind: 'federated', jwks_uri: 'https://idp.test/jwks', audience: 'tessera', email_verified_claim: 'mail_ok', allowed_scopes: ['apps:run'] },
  ],
  { allowInsecureHttp: false },
) as [never, never, never, never, never];
const base = { iat: 1_900_000_000, exp: 1_900_000_600 };
/** A federated token's email, verified by the IdP. */
const mail = (email: string) => ({ email, email_verified: true });

describe('JWT claims → identity', () => {
  it.each([
    ['a space-separated string', 'apps:run  openid apps:read:permitted', ['apps:read:permitted', 'apps:run']],
    ['an array', ['apps:run', 'apps:read', 'full'], ['apps:run']],
    ['no scope claim', undefined, []],
    ['only foreign scopes', 'openid profile full', []],
  ])('when the federated scope claim is %s, then scopes are its intersection with allowed_scopes', (_name, scope, expected) => {
    const id = identityFromClaims(federated, { ...base, sub: 's', ...mail('a@b.test'), scope });
    expect('reason' in id ? id : id.scopes).toEqual(expected);
  });

  it('when a federated token carries an email and a name, then the email is lower-cased and the name is displayed', () => {
    const id = identityFromClaims(federated, { ...base, sub: 's-1', ...mail(' Ada@Example.COM '), name: 'Ada' });
    expect(id).toMatchObject({ principalType: 'user', email: 'ada@example.com', displayName: 'Ada', workspaceId: null, expiresAtMs: base.exp * 1000, issuedAtMs: base.iat * 1000 });
  });

  it('when a gateway token names a workspace, then the service account is confined to it and the configured claims are read', () => {
    const id = identityFromClaims(gateway, { ...base, sub: 'ignored', client_id: 'svc-billing', scp: ['apps:run', 'apps:read'], tessera_workspace: WS });
    expect(id).toMatchObject({ kind: 'gateway', principalType: 'service_account', subject: 'svc-billing', email: null, displayName: 'svc-billing', scopes: ['apps:read', 'apps:run'], workspaceId: WS.toLowerCase() });
  });

  it.each([
    ['a numeric subject', federated, { sub: 42, ...mail('a@b.test') }, 'bad_subject'],
    ['an empty subject', federated, { sub: '', ...mail('a@b.test') }, 'bad_subject'],
    ['an overlong subject', federated, { sub: 's'.repeat(256), ...mail('a@b.test') }, 'bad_subject'],
    ['no email on a federated token', federated, { sub: 's', email_verified: true }, 'bad_email'],
    ['an email that is not one', federated, { sub: 's', email: 'not-an-email', email_verified: true }, 'bad_email'],
    ['a federated email without email_verified', federated, { sub: 's', email: 'a@b.test' }, 'email_not_verified'],
    ['a federated email with email_verified false', federated, { sub: 's', email: 'a@b.test', email_verified: false }, 'email_not_verified'],
    ['a federated email with email_verified "true" (a string)', federated, { sub: 's', email: 'a@b.test', email_verified: 'true' }, 'email_not_verified'],
    ['a federated email with email_verified 1', federated, { sub: 's', email: 'a@b.test', email_verified: 1 }, 'email_not_verified'],
    ['a custom verified claim that is missing (the standard one is not read)', customVerifiedIdp, { sub: 's', email: 'a@b.test', email_verified: true }, 'email_not_verified'],
    ['a gateway token whose email claim is not a string', gateway, { client_id: 's', email: ['a@b.test'], tessera_workspace: WS }, 'bad_email'],
    ['a scope claim that is a number', federated, { sub: 's', ...mail('a@b.test'), scope: 7 }, 'bad_scope'],
    ['a scope array with a non-string', gateway, { client_id: 's', scp: ['apps:run', 1], tessera_workspace: WS }, 'bad_scope'],
    ['a gateway token without a workspace', gateway, { client_id: 's' }, 'bad_workspace'],
    ['a gateway workspace that is not a UUID', gateway, { client_id: 's', tessera_workspace: 'acme' }, 'bad_workspace'],
    ['a gateway workspace that is not in the issuer\'s workspaces', listedGateway, { sub: 's', tessera_workspace: OTHER_WS }, 'bad_workspace'],
  ])('when a token has %s, then the identity is refused', (_name, entry, claims, reason) => {
    expect(identityFromClaims(entry, { ...base, ...claims } as never)).toMatchObject({ reason });
  });

  it('when a gateway issuer lists workspaces, then a token naming one of them (in any case) is confined to it', () => {
    const id = identityFromClaims(listedGateway, { ...base, sub: 'svc', tessera_workspace: WS.toUpperCase() });
    expect(id).toMatchObject({ kind: 'gateway', workspaceId: WS.toLowerCase() });
  });

  it('when a federated issuer names its own verified claim, or opts out with null, then that is what decides', () => {
    expect(identityFromClaims(customVerifiedIdp, { ...base, sub: 's', email: 'a@b.test', mail_ok: true })).toMatchObject({ email: 'a@b.test' });
    expect(identityFromClaims(unverifiedIdp, { ...base, sub: 's', email: 'a@b.test' })).toMatchObject({ email: 'a@b.test' });
    expect(identityFromClaims(unverifiedIdp, { ...base, sub: 's', email: 'a@b.test', email_verified: false })).toMatchObject({ email: 'a@b.test' });
  });

  it('when a token carries a jti, then the identity keeps it for audit lines; an empty, overlong or non-string one is dropped', () => {
    const jti = (value: unknown) => {
      const id = identityFromClaims(federated, { ...base, sub: 's', ...mail('a@b.test'), jti: value } as never);
      return 'reason' in id ? id : id.jti;
    };
    expect(jti('req-42')).toBe('req-42');
    expect(jti(undefined)).toBeNull();
    expect(jti('')).toBeNull();
    expect(jti('j'.repeat(256))).toBeNull();
    expect(jti(42)).toBeNull();
  });

  it('when (iss, sub) pairs differ only in where they split, then their rate-limit keys differ', () => {
    expect(rateLimitKey('https://a', 'bc')).not.toBe(rateLimitKey('https://ab', 'c'));
    expect(rateLimitKey('iss', 'sub')).toBe(rateLimitKey('iss', 'sub'));
  });
});
