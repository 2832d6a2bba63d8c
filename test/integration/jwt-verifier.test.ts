import type { JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TrustedIssuer } from '../../src/auth/jwt/trusted-issuers.ts';
import { JwtVerifier, type JwtVerification, type JwtVerifierOptions } from '../../src/auth/jwt/verifier.ts';
import { AIRGAP, AUD, claimsFor, GATEWAY, IDP, jwtAttacks, makeKit, trustedIssuers, type JwtKit } from '../helpers/jwt-attacks.ts';
import { b64json, jwksOf, mint, startJwksServer, type JwksServer, type TestKey } from '../helpers/jwks.ts';
import { auditLog } from '../helpers/log.ts';

// Real keys, real HTTP JWKS endpoints, the verifier as the bearer pipeline uses it.
const WORKSPACE = '0b6c2a4e-2f0e-4b8e-9c3a-6f1d2e3a4b5c';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const nowSec = Math.floor(NOW / 1000);

let kit: JwtKit;
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
  kit = await makeKit();
  ({ rsa, ec, rotated, ed, air, attacker } = kit);
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

const trusted = (idpUri: string, gatewayUri: string) => trustedIssuers(kit, idpUri, gatewayUri);

/** A verifier with a fresh JWKS cache and a log we can read back. */
function verifier(opts: JwtVerifierOptions & { issuers?: readonly TrustedIssuer[] } = {}) {
  const { log, lines } = auditLog();
  const v = new JwtVerifier(opts.issuers ?? issuers, { now: () => NOW, log, ...opts });
  return { v, lines };
}

const claims = claimsFor(() => nowSec, () => WORKSPACE);
const idpClaims = claims.idp;
const gatewayClaims = claims.gateway;

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
          jti: null,
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
  const cases = jwtAttacks(() => kit, () => nowSec, () => WORKSPACE).map((a) => [a.name, a.build, a.reason] as const);

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
