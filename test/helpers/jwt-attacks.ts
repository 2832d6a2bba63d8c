import { createPublicKey } from 'node:crypto';
import { exportSPKI, SignJWT, type JWTPayload } from 'jose';
import { JWT_LIMITS } from '../../src/auth/jwt/compact-shape.ts';
import { validateTrustedIssuers, type TrustedIssuer } from '../../src/auth/jwt/trusted-issuers.ts';
import { b64json, jwksOf, makeKey, mint, type TestKey } from './jwks.ts';

/**
 * The attack list as token builders, shared by the verifier's own tests and the
 * end-to-end tests through the HTTP API. Four issuers: an IdP (federated, RS256 and ES256,
 * remote JWKS), a gateway (EdDSA, remote JWKS, a 300 s lifetime cap, no workspaces list),
 * an air-gapped gateway (ES256, inline keys) and a gateway confined to one listed
 * workspace (EdDSA, inline keys).
 */
export const IDP = 'https://idp.test/realms/acme';
export const GATEWAY = 'https://gateway.acme.test';
export const AIRGAP = 'urn:acme:airgapped-gateway';
export const LISTED = 'https://gateway.listed.test';
/** The one workspace LISTED's tokens may name (no test creates it: tokens naming it pass identity, then find no app). */
export const LISTED_WORKSPACE = '5e0c1a7b-3d9f-4c2e-8b6a-1f2d3c4b5a69';
export const AUD = 'https://tessera.acme.test';

export interface JwtKit {
  rsa: TestKey; // IdP, RS256
  ec: TestKey; // IdP, ES256
  rotated: TestKey; // IdP, published mid-test
  ed: TestKey; // gateway, EdDSA
  air: TestKey; // air-gapped gateway, ES256, inline JWKS
  attacker: TestKey; // nobody trusts it; same kid as the IdP's RSA key
}

export async function makeKit(): Promise<JwtKit> {
  const [rsa, ec, rotated, ed, air, attacker] = await Promise.all([
    makeKey('RS256', 'idp-rsa-1'),
    makeKey('ES256', 'idp-ec-1'),
    makeKey('RS256', 'idp-rsa-2'),
    makeKey('EdDSA', 'gw-ed-1'),
    makeKey('ES256', 'air-1'),
    makeKey('RS256', 'idp-rsa-1'),
  ]);
  return { rsa, ec, rotated, ed, air, attacker };
}

/** The raw TRUSTED_JWT_ISSUERS entries (also what the docs' examples look like). */
export function issuerEntries(kit: JwtKit, idpJwksUri: string, gatewayJwksUri: string, gatewayWorkspaceClaim = 'tessera_workspace') {
  return [
    { issuer: IDP, kind: 'federated', jwks_uri: idpJwksUri, audience: AUD, algorithms: ['RS256', 'ES256'], allowed_scopes: ['apps:run', 'apps:read:permitted'], max_lifetime_seconds: 3600 },
    {
      issuer: GATEWAY,
      kind: 'gateway',
      jwks_uri: gatewayJwksUri,
      audience: AUD,
      algorithms: ['EdDSA'],
      subject_claim: 'client_id',
      workspace_claim: gatewayWorkspaceClaim,
      allowed_scopes: ['apps:read', 'apps:run'],
      max_lifetime_seconds: 300,
    },
    { issuer: AIRGAP, kind: 'gateway', jwks: jwksOf(kit.air), audience: AUD, algorithms: ['ES256'], workspace_claim: 'ws', allowed_scopes: ['apps:run'] },
    {
      issuer: LISTED,
      kind: 'gateway',
      jwks: jwksOf(kit.ed),
      audience: AUD,
      algorithms: ['EdDSA'],
      subject_claim: 'client_id',
      workspaces: [LISTED_WORKSPACE],
      allowed_scopes: ['apps:read', 'apps:run'],
    },
  ];
}

export function trustedIssuers(kit: JwtKit, idpJwksUri: string, gatewayJwksUri: string): readonly TrustedIssuer[] {
  return validateTrustedIssuers(issuerEntries(kit, idpJwksUri, gatewayJwksUri), { allowInsecureHttp: true });
}

/** Claims builders around a clock (seconds): fixed in the verifier's tests, real time end to end. */
export function claimsFor(nowSec: () => number, workspace: () => string) {
  return {
    idp: (over: JWTPayload = {}): JWTPayload => ({
      iss: IDP,
      aud: AUD,
      sub: 'u-123',
      email: 'Ada@Acme.test',
      email_verified: true,
      scope: 'openid apps:run apps:read full apps:read:permitted',
      iat: nowSec() - 60,
      exp: nowSec() + 600,
      ...over,
    }),
    gateway: (over: JWTPayload = {}): JWTPayload => ({
      iss: GATEWAY,
      aud: [AUD, 'other-api'],
      client_id: 'billing-service',
      scope: ['apps:run', 'apps:read:permitted'],
      tessera_workspace: workspace(),
      iat: nowSec(),
      exp: nowSec() + 120,
      ...over,
    }),
  };
}

export type Attack = { name: string; build: () => Promise<string>; reason: string; overHttp: boolean };

/**
 * Every entry is refused as invalid with `reason` in the log. `overHttp: false` marks the
 * one token a real client cannot send: Node refuses headers over 16 KiB (431) first.
 */
export function jwtAttacks(kit: () => JwtKit, nowSec: () => number, workspace: () => string): Attack[] {
  const c = claimsFor(nowSec, workspace);
  const k = kit;
  const at = (name: string, build: () => Promise<string>, reason: string, overHttp = true): Attack => ({ name, build, reason, overHttp });
  const n = nowSec;
  return [
    at('alg none with an empty signature', async () => `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(c.idp())}.`, 'alg_not_allowed'),
    at('alg none with a signature', async () => `${b64json({ alg: 'none' })}.${b64json(c.idp())}.${b64json('sig')}`, 'alg_not_allowed'),
    at('alg "None" (case variant)', async () => `${b64json({ alg: 'None', kid: k().rsa.kid })}.${b64json(c.idp())}.`, 'alg_not_allowed'),
    at(
      'HS256 signed with the issuer public key (PEM)',
      async () => new SignJWT(c.idp()).setProtectedHeader({ alg: 'HS256', kid: k().rsa.kid }).sign(new TextEncoder().encode(await exportSPKI(k().rsa.publicKey))),
      'alg_not_allowed',
    ),
    at(
      'HS256 signed with the issuer public key (DER)',
      async () =>
        new SignJWT(c.idp())
          .setProtectedHeader({ alg: 'HS256', kid: k().rsa.kid })
          .sign(new Uint8Array(createPublicKey(await exportSPKI(k().rsa.publicKey)).export({ type: 'spki', format: 'der' }))),
      'alg_not_allowed',
    ),
    at('an algorithm trusted for another issuer only', () => mint(k().rsa, c.gateway()), 'alg_not_allowed'),
    at('an unknown iss', () => mint(k().attacker, c.idp({ iss: 'https://evil.test' })), 'unknown_issuer'),
    at('no iss', () => mint(k().rsa, c.idp({ iss: undefined })), 'unknown_issuer'),
    at('an iss that is a prefix of a trusted one', () => mint(k().rsa, c.idp({ iss: IDP.slice(0, -1) })), 'unknown_issuer'),
    at('an iss that is a substring of a trusted one (its host)', () => mint(k().rsa, c.idp({ iss: new URL(IDP).origin })), 'unknown_issuer'),
    at('an iss with a trailing slash', () => mint(k().rsa, c.idp({ iss: `${IDP}/` })), 'unknown_issuer'),
    at('an iss that extends a trusted one', () => mint(k().rsa, c.idp({ iss: `${IDP}/../evil` })), 'unknown_issuer'),
    at('an iss in another case', () => mint(k().rsa, c.idp({ iss: IDP.toUpperCase() })), 'unknown_issuer'),
    at('an iss that is not a string', () => mint(k().rsa, c.idp({ iss: [IDP] as unknown as string })), 'unknown_issuer'),
    at('the wrong aud', () => mint(k().rsa, c.idp({ aud: 'https://other.acme.test' })), 'wrong_audience'),
    at('an aud list without ours', () => mint(k().rsa, c.idp({ aud: ['a', `${AUD}/`] })), 'wrong_audience'),
    at('no aud', () => mint(k().rsa, c.idp({ aud: undefined })), 'missing_claim'),
    at('no exp', () => mint(k().rsa, c.idp({ exp: undefined })), 'missing_claim'),
    at('no iat', () => mint(k().rsa, c.idp({ iat: undefined })), 'missing_claim'),
    at('an exp that is not a number', () => mint(k().rsa, c.idp({ exp: String(n() + 600) as unknown as number })), 'bad_claim'),
    at('exp in the past beyond the skew', () => mint(k().rsa, c.idp({ iat: n() - 600, exp: n() - 31 })), 'expired'),
    at('nbf in the future beyond the skew', () => mint(k().rsa, c.idp({ nbf: n() + 300 })), 'not_yet_valid'),
    at('iat in the future beyond the skew (stretching the cap)', () => mint(k().rsa, c.idp({ iat: n() + 3000, exp: n() + 6000 })), 'issued_in_future'),
    at('a lifetime over the cap', () => mint(k().rsa, c.idp({ iat: n() - 10, exp: n() - 10 + 3601 })), 'lifetime_exceeded'),
    at('a lifetime over a short gateway cap', () => mint(k().ed, c.gateway({ exp: n() + 301 })), 'lifetime_exceeded'),
    at(
      'a bad signature (one character changed)',
      async () => {
        const t = await mint(k().rsa, c.idp());
        const sig = t.split('.')[2]!;
        return t.slice(0, -sig.length) + (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
      },
      'bad_signature',
    ),
    at('a signature by another key under a trusted kid', () => mint(k().attacker, c.idp()), 'bad_signature'),
    at(
      'claims swapped under a valid signature',
      async () => {
        const [h, , s] = (await mint(k().rsa, c.idp())).split('.');
        return `${h}.${b64json(c.idp({ sub: 'admin' }))}.${s}`;
      },
      'bad_signature',
    ),
    at('a signature and kid of another trusted issuer (iss relabelled to the IdP)', () => mint(k().air, c.idp()), 'unknown_key'),
    at('a signature and kid of the IdP (iss relabelled to the inline-keys gateway)', () => mint(k().ec, { ...c.idp({ iss: AIRGAP }), ws: workspace() }), 'unknown_key'),
    at('an unknown kid', () => mint(k().rsa, c.idp(), { kid: 'never-published' }), 'unknown_key'),
    at('a key embedded in the header (jwk)', () => mint(k().attacker, c.idp(), { kid: 'embedded', jwk: k().attacker.publicJwk }), 'unknown_key'),
    at('a subject claim that is missing', () => mint(k().rsa, c.idp({ sub: undefined })), 'bad_subject'),
    at('a federated token without an email', () => mint(k().rsa, c.idp({ email: undefined })), 'bad_email'),
    // Grants and sessions are keyed by email: an address the IdP has not verified could be anyone's.
    at('a federated token without email_verified', () => mint(k().rsa, c.idp({ email_verified: undefined })), 'email_not_verified'),
    at('a federated token with email_verified false', () => mint(k().rsa, c.idp({ email_verified: false })), 'email_not_verified'),
    at('a federated token with email_verified "true" (a string)', () => mint(k().rsa, c.idp({ email_verified: 'true' })), 'email_not_verified'),
    at('a gateway token naming a workspace its issuer does not list', () => mint(k().ed, c.gateway({ iss: LISTED })), 'bad_workspace'),
    at('a gateway token without a workspace', () => mint(k().ed, c.gateway({ tessera_workspace: undefined })), 'bad_workspace'),
    at('a gateway token with a workspace that is not an id', () => mint(k().ed, c.gateway({ tessera_workspace: "' OR 1=1 --" })), 'bad_workspace'),
    at('a scope claim of the wrong type', () => mint(k().rsa, c.idp({ scope: { all: true } as unknown as string })), 'bad_scope'),
    at('a huge token (10 MiB)', async () => `${b64json({ alg: 'RS256' })}.${'A'.repeat(10 * 1024 * 1024)}.sig`, 'too_large', false),
    at('a token just over the size cap', async () => `${b64json({ alg: 'RS256' })}.${'A'.repeat(JWT_LIMITS.token)}.sig`, 'too_large'),
    at(
      'segments each within their cap but too long together',
      async () => `${b64json({ alg: 'RS256', x: 'h'.repeat(2900) })}.${b64json({ ...c.idp(), x: 'p'.repeat(5800) })}.${'s'.repeat(2000)}`,
      'too_large',
    ),
    at('a huge header', async () => `${b64json({ alg: 'RS256', kid: 'k'.repeat(JWT_LIMITS.header) })}.${b64json(c.idp())}.c2ln`, 'too_large'),
    at('a huge payload', () => mint(k().rsa, c.idp({ groups: Array.from({ length: 800 }, (_, i) => `group-${i}`) })), 'too_large'),
    at('a header that is not JSON', async () => `${b64json('{alg: RS256')}.${b64json(c.idp())}.c2ln`, 'malformed'),
    at('a payload that is not JSON', async () => `${b64json({ alg: 'RS256', kid: k().rsa.kid })}.${b64json('not json')}.c2ln`, 'malformed'),
    at('a payload that is a JSON array', async () => `${b64json({ alg: 'RS256', kid: k().rsa.kid })}.${b64json([IDP])}.c2ln`, 'malformed'),
    at('a segment that is not base64url', async () => `${b64json({ alg: 'RS256' })}.${b64json(c.idp())}=.c2ln`, 'malformed'),
    at('four segments', async () => `${await mint(k().rsa, c.idp())}.c2ln`, 'malformed'),
    at('two segments', async () => `${b64json({ alg: 'RS256' })}.${b64json(c.idp())}`, 'malformed'),
    at('five segments (JWE shape)', async () => `${b64json({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`, 'malformed'),
  ];
}
