import { createPublicKey } from 'node:crypto';
import { Writable } from 'node:stream';
import { exportSPKI, SignJWT, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { JWT_LIMITS } from '../../src/auth/jwt/compact-shape.ts';
import { validateTrustedIssuers, type TrustedIssuer } from '../../src/auth/jwt/trusted-issuers.ts';
import { JwtVerifier, type JwtVerification, type JwtVerifierOptions } from '../../src/auth/jwt/verifier.ts';
import { createLogger } from '../../src/logger.ts';
import { b64json, jwksOf, makeKey, mint, startJwksServer, type JwksServer, type TestKey } from '../helpers/jwks.ts';

// Real keys, real HTTP JWKS endpoints, the verifier as phase 2 will use it.
const IDP = 'https://idp.test/realms/acme';
const GATEWAY = 'https://gateway.acme.test';
const AIRGAP = 'urn:acme:airgapped-gateway';
const AUD = 'https://tessera.acme.test';
const WORKSPACE = '0b6c2a4e-2f0e-4b8e-9c3a-6f1d2e3a4b5c';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const nowSec = Math.floor(NOW / 1000);

let rsa: TestKey; // IdP, RS256
let ec: TestKey; // IdP, ES256
let rotated: TestKey; // IdP, published mid-test
let ed: TestKey; // gateway, EdDSA
let air: TestKey; // air-gapped gateway, ES256, inline JWKS
let attacker: TestKey; // nobody trusts it
let idpJwks: JwksServer;
let gatewayJwks: JwksServer;
let issuers: readonly TrustedIssuer[];

beforeAll(async () => {
  [rsa, ec, rotated, ed, air, attacker] = await Promise.all([
    makeKey('RS256', 'idp-rsa-1'),
    makeKey('ES256', 'idp-ec-1'),
    makeKey('RS256', 'idp-rsa-2'),
    makeKey('EdDSA', 'gw-ed-1'),
    makeKey('ES256', 'air-1'),
    makeKey('RS256', 'idp-rsa-1'),
  ]);
  idpJwks = await startJwksServer(jwksOf(rsa, ec));
  gatewayJwks = await startJwksServer(jwksOf(ed));
  issuers = trusted(idpJwks.url, gatewayJwks.url);
});
afterAll(async () => {
  await idpJwks.close();
  await gatewayJwks.close();
});
beforeEach(() => {
  idpJwks.jwks = jwksOf(rsa, ec);
  idpJwks.mode = 'ok';
  gatewayJwks.mode = 'ok';
});
afterEach(() => {
  vi.useRealTimers();
});

function trusted(idpUri: string, gatewayUri: string): readonly TrustedIssuer[] {
  return validateTrustedIssuers(
    [
      { issuer: IDP, kind: 'federated', jwks_uri: idpUri, audience: AUD, algorithms: ['RS256', 'ES256'], allowed_scopes: ['apps:run', 'apps:read:permitted'], max_lifetime_seconds: 3600 },
      { issuer: GATEWAY, kind: 'gateway', jwks_uri: gatewayUri, audience: AUD, algorithms: ['EdDSA'], subject_claim: 'client_id', allowed_scopes: ['apps:read', 'apps:run'], max_lifetime_seconds: 300 },
      { issuer: AIRGAP, kind: 'gateway', jwks: jwksOf(air), audience: AUD, algorithms: ['ES256'], workspace_claim: 'ws', allowed_scopes: ['apps:run'] },
    ],
    { allowInsecureHttp: true },
  );
}

/** A verifier with a fresh JWKS cache and a log we can read back. */
function verifier(opts: JwtVerifierOptions & { issuers?: readonly TrustedIssuer[] } = {}) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const v = new JwtVerifier(opts.issuers ?? issuers, { now: () => NOW, log: createLogger('info', sink), ...opts });
  return { v, lines };
}

const idpClaims = (over: JWTPayload = {}): JWTPayload => ({
  iss: IDP,
  aud: AUD,
  sub: 'u-123',
  email: 'Ada@Acme.test',
  scope: 'openid apps:run apps:read full apps:read:permitted',
  iat: nowSec - 60,
  exp: nowSec + 600,
  ...over,
});
const gatewayClaims = (over: JWTPayload = {}): JWTPayload => ({
  iss: GATEWAY,
  aud: [AUD, 'other-api'],
  client_id: 'billing-service',
  scope: ['apps:run', 'apps:read:permitted'],
  tessera_workspace: WORKSPACE,
  iat: nowSec,
  exp: nowSec + 120,
  ...over,
});

function expectInvalid(result: JwtVerification, reason: string): void {
  expect(result.ok).toBe(false);
  expect(result.ok === false && result.outcome).toBe('invalid');
  expect(result.ok === false && result.reason).toBe(reason);
}

/** The log names the reason and never carries the token or any of its segments. */
function expectLoggedWithoutToken(lines: string[], token: string, reason: string): void {
  const logged = lines.join('\n');
  expect(logged).toContain(`"reason":"${reason}"`);
  expect(logged).not.toContain(token.slice(0, 1000));
  for (const segment of token.split('.')) if (segment.length >= 8) expect(logged).not.toContain(segment.slice(0, 1000));
}

describe('JWT verifier: tokens that verify', () => {
  it('when an IdP token is signed with RS256 or ES256, then a federated identity comes back with scopes ∩ allowed_scopes', async () => {
    const { v } = verifier();
    for (const key of [rsa, ec]) {
      const result = await v.verify(await mint(key, idpClaims({ name: 'Ada Lovelace' })));
      expect(result).toEqual({
        ok: true,
        identity: {
          issuer: IDP,
          kind: 'federated',
          principalType: 'user',
          subject: 'u-123',
          email: 'ada@acme.test',
          displayName: 'Ada Lovelace',
          scopes: ['apps:run', 'apps:read:permitted'],
          workspaceId: null,
          issuedAtMs: (nowSec - 60) * 1000,
          expiresAtMs: (nowSec + 600) * 1000,
          rateLimitKey: expect.stringMatching(/^[0-9a-f]{64}$/),
        },
      });
    }
  });

  it('when a gateway token is signed with EdDSA, then a service account confined to the claimed workspace comes back', async () => {
    const { v } = verifier();
    const result = await v.verify(await mint(ed, gatewayClaims()));
    expect(result.ok && result.identity).toMatchObject({
      issuer: GATEWAY,
      kind: 'gateway',
      principalType: 'service_account',
      subject: 'billing-service',
      email: null,
      displayName: 'billing-service',
      scopes: ['apps:run'],
      workspaceId: WORKSPACE,
      expiresAtMs: (nowSec + 120) * 1000,
    });
  });

  it('when two different tokens carry the same (iss, sub), then they share one rate-limit key; another subject does not', async () => {
    const { v } = verifier();
    const keys = await Promise.all(
      [idpClaims({ iat: nowSec - 1 }), idpClaims({ iat: nowSec - 2, jti: 'x' }), idpClaims({ sub: 'u-456' })].map(async (c) => {
        const r = await v.verify(await mint(rsa, c));
        return r.ok ? r.identity.rateLimitKey : null;
      }),
    );
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys[0]).not.toBeNull();
  });

  it('when the issuer keys are inline (air-gapped), then tokens verify without any HTTP request', async () => {
    const { v } = verifier();
    const before = idpJwks.requests + gatewayJwks.requests;
    const result = await v.verify(await mint(air, { iss: AIRGAP, aud: AUD, sub: 'edge-1', ws: WORKSPACE, scope: 'apps:run', iat: nowSec, exp: nowSec + 60 }));
    expect(result.ok && result.identity).toMatchObject({ issuer: AIRGAP, workspaceId: WORKSPACE, scopes: ['apps:run'] });
    expect(idpJwks.requests + gatewayJwks.requests).toBe(before);
  });

  it('when exp has just passed or nbf is just ahead (within the 30 s skew), then the token is still accepted', async () => {
    const { v } = verifier();
    expect((await v.verify(await mint(rsa, idpClaims({ exp: nowSec - 20, iat: nowSec - 600 })))).ok).toBe(true);
    expect((await v.verify(await mint(rsa, idpClaims({ nbf: nowSec + 20 })))).ok).toBe(true);
  });
});

describe('JWT verifier: attacks are invalid, logged with a reason and without the token', () => {
  // Each case: a token builder and the reason the log must show.
  const cases: [string, () => Promise<string>, string][] = [
    ['alg none with an empty signature', async () => `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(idpClaims())}.`, 'alg_not_allowed'],
    ['alg none with a signature', async () => `${b64json({ alg: 'none' })}.${b64json(idpClaims())}.${b64json('sig')}`, 'alg_not_allowed'],
    ['alg "None" (case variant)', async () => `${b64json({ alg: 'None', kid: rsa.kid })}.${b64json(idpClaims())}.`, 'alg_not_allowed'],
    [
      'HS256 signed with the issuer public key (PEM)',
      async () => new SignJWT(idpClaims()).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(new TextEncoder().encode(await exportSPKI(rsa.publicKey))),
      'alg_not_allowed',
    ],
    [
      'HS256 signed with the issuer public key (DER)',
      async () =>
        new SignJWT(idpClaims())
          .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
          .sign(new Uint8Array(createPublicKey(await exportSPKI(rsa.publicKey)).export({ type: 'spki', format: 'der' }))),
      'alg_not_allowed',
    ],
    ['an algorithm trusted for another issuer only', () => mint(rsa, gatewayClaims()), 'alg_not_allowed'],
    ['an unknown iss', () => mint(attacker, idpClaims({ iss: 'https://evil.test' })), 'unknown_issuer'],
    ['no iss', () => mint(rsa, idpClaims({ iss: undefined })), 'unknown_issuer'],
    ['an iss that is a prefix of a trusted one', () => mint(rsa, idpClaims({ iss: 'https://idp.test/realms/acm' })), 'unknown_issuer'],
    ['an iss that is the host of a trusted one', () => mint(rsa, idpClaims({ iss: 'https://idp.test' })), 'unknown_issuer'],
    ['an iss with a trailing slash', () => mint(rsa, idpClaims({ iss: `${IDP}/` })), 'unknown_issuer'],
    ['an iss that extends a trusted one', () => mint(rsa, idpClaims({ iss: `${IDP}/../evil` })), 'unknown_issuer'],
    ['an iss in another case', () => mint(rsa, idpClaims({ iss: IDP.toUpperCase() })), 'unknown_issuer'],
    ['an iss that is not a string', () => mint(rsa, idpClaims({ iss: [IDP] as unknown as string })), 'unknown_issuer'],
    ['the wrong aud', () => mint(rsa, idpClaims({ aud: 'https://other.acme.test' })), 'wrong_audience'],
    ['an aud list without ours', () => mint(rsa, idpClaims({ aud: ['a', `${AUD}/`] })), 'wrong_audience'],
    ['no aud', () => mint(rsa, idpClaims({ aud: undefined })), 'missing_claim'],
    ['no exp', () => mint(rsa, idpClaims({ exp: undefined })), 'missing_claim'],
    ['no iat', () => mint(rsa, idpClaims({ iat: undefined })), 'missing_claim'],
    ['an exp that is not a number', () => mint(rsa, idpClaims({ exp: String(nowSec + 600) as unknown as number })), 'bad_claim'],
    ['exp in the past beyond the skew', () => mint(rsa, idpClaims({ iat: nowSec - 600, exp: nowSec - 31 })), 'expired'],
    ['nbf in the future beyond the skew', () => mint(rsa, idpClaims({ nbf: nowSec + 31 })), 'not_yet_valid'],
    ['iat in the future beyond the skew (stretching the cap)', () => mint(rsa, idpClaims({ iat: nowSec + 3000, exp: nowSec + 6000 })), 'issued_in_future'],
    ['a lifetime over the cap', () => mint(rsa, idpClaims({ iat: nowSec - 10, exp: nowSec - 10 + 3601 })), 'lifetime_exceeded'],
    ['a lifetime over a short gateway cap', () => mint(ed, gatewayClaims({ exp: nowSec + 301 })), 'lifetime_exceeded'],
    [
      'a bad signature (one character changed)',
      async () => {
        const t = await mint(rsa, idpClaims());
        const sig = t.split('.')[2]!;
        return t.slice(0, -sig.length) + (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
      },
      'bad_signature',
    ],
    ['a signature by another key under a trusted kid', () => mint(attacker, idpClaims()), 'bad_signature'],
    [
      'claims swapped under a valid signature',
      async () => {
        const [h, , s] = (await mint(rsa, idpClaims())).split('.');
        return `${h}.${b64json(idpClaims({ sub: 'admin' }))}.${s}`;
      },
      'bad_signature',
    ],
    ['a signature and kid of another trusted issuer (iss relabelled to the IdP)', () => mint(air, idpClaims()), 'unknown_key'],
    ['a signature and kid of the IdP (iss relabelled to the inline-keys gateway)', () => mint(ec, { ...idpClaims({ iss: AIRGAP }), ws: WORKSPACE }), 'unknown_key'],
    ['an unknown kid', () => mint(rsa, idpClaims(), { kid: 'never-published' }), 'unknown_key'],
    ['a key embedded in the header (jwk)', () => mint(attacker, idpClaims(), { kid: 'embedded', jwk: attacker.publicJwk }), 'unknown_key'],
    ['a subject claim that is missing', () => mint(rsa, idpClaims({ sub: undefined })), 'bad_subject'],
    ['a federated token without an email', () => mint(rsa, idpClaims({ email: undefined })), 'bad_email'],
    ['a gateway token without a workspace', () => mint(ed, gatewayClaims({ tessera_workspace: undefined })), 'bad_workspace'],
    ['a gateway token with a workspace that is not an id', () => mint(ed, gatewayClaims({ tessera_workspace: "' OR 1=1 --" })), 'bad_workspace'],
    ['a scope claim of the wrong type', () => mint(rsa, idpClaims({ scope: { all: true } as unknown as string })), 'bad_scope'],
    ['a huge token (10 MiB)', async () => `${b64json({ alg: 'RS256' })}.${'A'.repeat(10 * 1024 * 1024)}.sig`, 'too_large'],
    [
      'segments each within their cap but too long together',
      async () => `${b64json({ alg: 'RS256', x: 'h'.repeat(2900) })}.${b64json({ ...idpClaims(), x: 'p'.repeat(5800) })}.${'s'.repeat(2000)}`,
      'too_large',
    ],
    ['a huge header', async () => `${b64json({ alg: 'RS256', kid: 'k'.repeat(JWT_LIMITS.header) })}.${b64json(idpClaims())}.c2ln`, 'too_large'],
    ['a huge payload', () => mint(rsa, idpClaims({ groups: Array.from({ length: 800 }, (_, i) => `group-${i}`) })), 'too_large'],
    ['a header that is not JSON', async () => `${b64json('{alg: RS256')}.${b64json(idpClaims())}.c2ln`, 'malformed'],
    ['a payload that is not JSON', async () => `${b64json({ alg: 'RS256', kid: rsa.kid })}.${b64json('not json')}.c2ln`, 'malformed'],
    ['a payload that is a JSON array', async () => `${b64json({ alg: 'RS256', kid: rsa.kid })}.${b64json([IDP])}.c2ln`, 'malformed'],
    ['a segment that is not base64url', async () => `${b64json({ alg: 'RS256' })}.${b64json(idpClaims())}=.c2ln`, 'malformed'],
    ['four segments', async () => `${await mint(rsa, idpClaims())}.c2ln`, 'malformed'],
    ['two segments', async () => `${b64json({ alg: 'RS256' })}.${b64json(idpClaims())}`, 'malformed'],
    ['five segments (JWE shape)', async () => `${b64json({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`, 'malformed'],
  ];

  it.each(cases)('when the token has %s, then it is invalid', async (_name, build, reason) => {
    const { v, lines } = verifier({ jwks: { cooldownMs: 0 } });
    const token = await build();
    const result = await v.verify(token);
    expectInvalid(result, reason);
    expectLoggedWithoutToken(lines, token, reason);
  });

  it('when the iss is unknown or near a trusted one, then no JWKS is fetched', async () => {
    const { v } = verifier();
    const before = [idpJwks.requests, gatewayJwks.requests];
    for (const iss of ['https://evil.test', 'https://idp.test/realms/acm', `${IDP}/`, 'https://idp.test', `${GATEWAY}.evil.test`]) {
      expectInvalid(await v.verify(await mint(attacker, idpClaims({ iss }))), 'unknown_issuer');
    }
    expectInvalid(await v.verify(`${b64json({ alg: 'none' })}.${b64json(idpClaims())}.`), 'alg_not_allowed');
    expect([idpJwks.requests, gatewayJwks.requests]).toEqual(before);
  });

  it('when a jku header points elsewhere, then only the configured JWKS is asked', async () => {
    const evil = await startJwksServer(jwksOf(attacker));
    try {
      const { v } = verifier({ jwks: { cooldownMs: 0 } });
      const token = await mint(attacker, idpClaims(), { kid: 'evil-1', jku: evil.url });
      expectInvalid(await v.verify(token), 'unknown_key');
      expect(evil.requests).toBe(0);
    } finally {
      await evil.close();
    }
  });
});

describe('JWT verifier: JWKS cache, rotation and cooldown', () => {
  const T0 = NOW;
  const at = (ms: number) => vi.setSystemTime(T0 + ms);
  const claimsAt = (ms: number, over: JWTPayload = {}) => idpClaims({ iat: Math.floor((T0 + ms) / 1000), exp: Math.floor((T0 + ms) / 1000) + 600, ...over });

  beforeEach(() => {
    // Only Date is faked: jose's cache and cooldown read Date.now(); sockets and timers stay real.
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
  });

  it('when many tokens verify, then the JWKS is fetched once, and concurrent first uses share that fetch', async () => {
    const { v } = verifier({ now: () => Date.now() });
    const before = idpJwks.requests;
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => mint(i % 2 ? rsa : ec, claimsAt(0, { jti: String(i) }))));
    const results = await Promise.all(tokens.map((t) => v.verify(t)));
    expect(results.every((r) => r.ok)).toBe(true);
    at(5 * 60_000);
    expect((await v.verify(await mint(rsa, claimsAt(5 * 60_000)))).ok).toBe(true);
    expect(idpJwks.requests - before).toBe(1);
  });

  it('when the issuer rotates to a new kid, then one refetch picks it up; a second unknown kid within the cooldown does not refetch', async () => {
    const { v, lines } = verifier({ now: () => Date.now() });
    const before = idpJwks.requests;
    expect((await v.verify(await mint(rsa, claimsAt(0)))).ok).toBe(true);
    expect(idpJwks.requests - before).toBe(1);

    idpJwks.jwks = jwksOf(rsa, ec, rotated);
    at(31_000);
    const fresh = await v.verify(await mint(rotated, claimsAt(31_000)));
    expect(fresh.ok).toBe(true);
    expect(idpJwks.requests - before).toBe(2);

    at(40_000);
    const unknown = await mint(rsa, claimsAt(40_000), { kid: 'not-yet-published' });
    expectInvalid(await v.verify(unknown), 'unknown_key');
    expect(idpJwks.requests - before).toBe(2);

    at(72_000);
    expectInvalid(await v.verify(unknown), 'unknown_key');
    expect(idpJwks.requests - before).toBe(3); // refetched once more, still unknown
    expectLoggedWithoutToken(lines, unknown, 'unknown_key');
    expect((await v.verify(await mint(rotated, claimsAt(72_000)))).ok).toBe(true);
    expect(idpJwks.requests - before).toBe(3);
  });

  it('when a kid belongs to another trusted issuer, then the refetch does not find it in this issuer\'s JWKS', async () => {
    const { v } = verifier({ now: () => Date.now() });
    const before = idpJwks.requests;
    expect((await v.verify(await mint(ec, claimsAt(0)))).ok).toBe(true);
    at(31_000);
    // Genuinely signed by the air-gapped gateway (ES256, kid air-1), relabelled with the IdP as issuer.
    const crossed = await mint(air, claimsAt(31_000));
    expectInvalid(await v.verify(crossed), 'unknown_key');
    expect(idpJwks.requests - before).toBe(2);
  });
});

describe('JWT verifier: a JWKS endpoint that is down', () => {
  const T0 = NOW;
  const at = (ms: number) => vi.setSystemTime(T0 + ms);
  const claimsAt = (ms: number, over: JWTPayload = {}) => idpClaims({ iat: Math.floor((T0 + ms) / 1000), exp: Math.floor((T0 + ms) / 1000) + 600, ...over });
  let idp: JwksServer;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
    idp = await startJwksServer(jwksOf(rsa, ec));
  });
  afterEach(() => idp.close());

  const unavailable = { ok: false, outcome: 'unavailable', reason: 'jwks_unavailable', issuer: IDP };

  it.each([
    ['refuses connections', async () => idp.close()],
    ['answers 503', async () => void (idp.mode = 'error')],
    ['answers malformed JSON', async () => void (idp.mode = 'malformed-json')],
    ['answers JSON that is not a JWKS', async () => void (idp.mode = 'not-a-jwks')],
    ['never answers (timeout)', async () => void (idp.mode = 'hang')],
  ])('when it %s, then that issuer\'s tokens are unavailable while other issuers keep verifying', async (_name, breakIt) => {
    const { v, lines } = verifier({ now: () => Date.now(), issuers: trusted(idp.url, gatewayJwks.url), jwks: { timeoutMs: 200 } });
    await breakIt();
    const token = await mint(rsa, claimsAt(0));
    expect(await v.verify(token)).toMatchObject(unavailable);
    expectLoggedWithoutToken(lines, token, 'jwks_unavailable');
    expect((await v.verify(await mint(ed, gatewayClaims()))).ok).toBe(true);
    expect((await v.verify(await mint(air, { iss: AIRGAP, aud: AUD, sub: 'edge', ws: WORKSPACE, iat: nowSec, exp: nowSec + 60 }))).ok).toBe(true);
  });

  it('when a fetch has just failed, then the next tokens fail fast without a request, and verification recovers once the endpoint is back', async () => {
    const { v, lines } = verifier({ now: () => Date.now(), issuers: trusted(idp.url, gatewayJwks.url), jwks: { failureBackoffMs: 5_000 } });
    idp.mode = 'error';
    expect(await v.verify(await mint(rsa, claimsAt(0)))).toMatchObject({ ...unavailable, fetched: true });
    expect(idp.requests).toBe(1);
    at(1_000);
    const results = await Promise.all(Array.from({ length: 5 }, async () => v.verify(await mint(rsa, claimsAt(1_000)))));
    for (const r of results) expect(r).toMatchObject({ ...unavailable, fetched: false });
    expect(idp.requests).toBe(1);
    // One warning for the failed fetch, not one per fail-fast answer.
    expect(lines.filter((l) => l.includes('"level":40'))).toHaveLength(1);

    idp.mode = 'ok';
    at(6_000);
    expect((await v.verify(await mint(rsa, claimsAt(6_000)))).ok).toBe(true);
    expect(idp.requests).toBe(2);
  });

  it('when keys are cached, then they keep verifying through an outage until the cache ages out', async () => {
    const { v } = verifier({ now: () => Date.now(), issuers: trusted(idp.url, gatewayJwks.url), jwks: { cacheMaxAgeMs: 120_000 } });
    expect((await v.verify(await mint(rsa, claimsAt(0)))).ok).toBe(true);
    idp.mode = 'error';
    at(60_000);
    expect((await v.verify(await mint(rsa, claimsAt(60_000)))).ok).toBe(true);
    expect(idp.requests).toBe(1);
    at(121_000);
    expect(await v.verify(await mint(rsa, claimsAt(121_000)))).toMatchObject(unavailable);
    expect(idp.requests).toBe(2);
  });

  it('when a rotated kid arrives during an outage, then it is unavailable, not invalid (the key may well exist)', async () => {
    const { v } = verifier({ now: () => Date.now(), issuers: trusted(idp.url, gatewayJwks.url) });
    expect((await v.verify(await mint(rsa, claimsAt(0)))).ok).toBe(true);
    await idp.close();
    at(31_000);
    expect(await v.verify(await mint(rotated, claimsAt(31_000)))).toMatchObject(unavailable);
    expect((await v.verify(await mint(ec, claimsAt(31_000)))).ok).toBe(true);
  });
});
