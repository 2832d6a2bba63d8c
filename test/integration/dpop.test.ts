import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { form, GRANT, startFlow } from '../helpers/device.ts';
import { ath, dpopHeaders, proof, proofKey, unsignedProof, type ProofKey } from '../helpers/dpop.ts';
import { createAccount, createApiKey, createTestApp, createWorkspace, uniq, type TestAccount } from '../helpers/fixtures.ts';
import { expectOAuthError } from '../helpers/oauth.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

// DPoP (RFC 9449) from the token endpoint to every API call, on two replicas that share
// Postgres and Redis behind one public URL (the second answers at its own address, as a
// replica behind a load balancer does).
const audit = auditLog();
let server: TestServer;
let other: TestServer;
let key: ProofKey;
beforeAll(async () => {
  // Reuse is judged at once (no grace), so a spent refresh token presented again is reuse.
  const refresh = { accessTokenTtlSeconds: 3600, refreshTokenTtlDays: 30, sessionMaxDays: 90, reuseGraceSeconds: 0 };
  server = await startServer({ log: audit.log, config: { refreshTokens: refresh } });
  other = await startServer({ config: { publicUrl: server.url, refreshTokens: refresh } });
  key = await proofKey();
});
afterAll(async () => {
  await other.close();
  await server.close();
});

const ALGS = 'algs="ES256 EdDSA Ed25519 RS256 PS256"';
const TOKEN_URL = () => `${server.url}/openapi/v1/oauth/token`;
const ME = () => `${server.url}/openapi/v1/me`;
const meWith = (headers: Record<string, string>, on = server) => fetch(`${on.url}/openapi/v1/me`, { headers });
/** GET /me with a bound token and a fresh proof of `k` for it. */
const dpopMe = async (token: string, k = key, on = server) => meWith(dpopHeaders(token, await proof(k, { htm: 'GET', htu: ME(), token })), on);

/** A device session minted as the device flow mints it, bound to `k` (or a bearer session with null). */
async function session(k: ProofKey | null = key, account?: TestAccount) {
  const who = account ?? (await createAccount(server.db));
  const t = await server.app.services.tokens.mintAccountToken({ accountId: who.id, email: who.email, clientId: 'tessera-cli', deviceLabel: `dev-${uniq()}`, dpopJkt: k?.jkt ?? null });
  return { account: who, access: t.token, refresh: t.refresh!.token, id: t.id };
}

const tokenRequest = (params: Record<string, string>, dpop?: string) => form(TOKEN_URL(), { client_id: 'tessera-cli', ...params }, dpop ? { DPoP: dpop } : {});
const refreshWith = (refreshToken: string, dpop?: string) => tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }, dpop);
const tokenProof = (k = key, o: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {}) => proof(k, { htm: 'POST', htu: TOKEN_URL(), ...o });

/** A device code approved by a fresh account, ready to be collected. */
async function approvedCode(): Promise<{ deviceCode: string; account: TestAccount }> {
  const account = await createAccount(server.db);
  const flow = await startFlow(server);
  expect((await decide(server, 'approve', flow.user_code, await consoleSignin(server, account))).status).toBe(200);
  return { deviceCode: flow.device_code, account };
}

async function expectDpopRefusal(res: Response, description?: RegExp): Promise<void> {
  expect(res.status).toBe(401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^DPoP realm="tessera", error="invalid_token"/);
  expect(challenge.endsWith(ALGS)).toBe(true);
  const body = await res.json();
  expect(body.error).toBe('invalid_token');
  if (description) expect(body.message).toMatch(description);
  expectMatchesSpec('get', '/me', 401, body);
}

describe('the token endpoint (RFC 9449 §5)', () => {
  it('when the metadata is read, then it lists the DPoP signing algorithms', async () => {
    const meta = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    expect(meta.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'EdDSA', 'RS256', 'PS256']));
  });

  it('when the device grant is collected with a proof, then both tokens are bound to its key and the answer says DPoP', async () => {
    const { deviceCode, account } = await approvedCode();
    const res = await tokenRequest({ grant_type: GRANT, device_code: deviceCode }, await tokenProof());
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ token_type: 'DPoP', scope: 'full' });
    const row = await server.db.one<{ dpop_jkt: string | null }>('SELECT dpop_jkt FROM oauth_access_tokens WHERE token_hash = $1', [hashToken(body.access_token)]);
    expect(row?.dpop_jkt).toBe(key.jkt);
    expect((await dpopMe(body.access_token)).status).toBe(200);
    await expectDpopRefusal(await meWith({ Authorization: `Bearer ${body.access_token}` }), /bound to a key/);
    await expectOAuthError(await refreshWith(body.refresh_token), 400, 'invalid_grant');
    expect(audit.events.some((e) => e.event === 'oauth.token_issued' && e.subject === account.id && e.dpop_bound === true)).toBe(true);
  });

  it('when the device grant is collected without a proof, then the tokens are Bearer tokens, as before', async () => {
    const { deviceCode } = await approvedCode();
    const body = await (await tokenRequest({ grant_type: GRANT, device_code: deviceCode })).json();
    expect(body.token_type).toBe('Bearer');
    expect((await server.db.one<{ dpop_jkt: string | null }>('SELECT dpop_jkt FROM oauth_access_tokens WHERE token_hash = $1', [hashToken(body.access_token)]))?.dpop_jkt).toBeNull();
    expect((await meWith({ Authorization: `Bearer ${body.access_token}` })).status).toBe(200);
  });

  it('when a token request carries an invalid proof, then it is 400 invalid_dpop_proof, and the approval is still there to collect', async () => {
    const { deviceCode } = await approvedCode();
    const other = await proofKey();
    const poll = (dpop: string) => tokenRequest({ grant_type: GRANT, device_code: deviceCode }, dpop);
    const bad = [
      await proof(key, { htm: 'POST', htu: ME() }),
      await tokenProof(key, { claims: { htm: 'GET' } }),
      await tokenProof(key, { claims: { iat: Math.floor(Date.now() / 1000) - 600 } }),
      await tokenProof(key, { header: { typ: 'JWT' } }),
      await tokenProof(other, { header: { jwk: key.jwk } }),
      unsignedProof(key, { htm: 'POST', htu: TOKEN_URL() }),
      'not-a-jwt',
    ];
    for (const dpop of bad) {
      const { error_description } = await expectOAuthError(await poll(dpop), 400, 'invalid_dpop_proof');
      expect(error_description).toMatch(/DPoP proof/);
    }
    const good = await tokenProof();
    expect((await poll(good)).status).toBe(200);
  });

  it('when a token request repeats a proof, then the repeat is invalid_dpop_proof on any replica, before the grant is looked at', async () => {
    const s = await session();
    const dpop = await tokenProof();
    expect((await refreshWith(s.refresh, dpop)).status).toBe(200);
    // The spent refresh token with its captured proof, sent again: refused as a replay, so nothing (not even reuse) happens.
    const replay = await form(`${other.url}/openapi/v1/oauth/token`, { client_id: 'tessera-cli', grant_type: 'refresh_token', refresh_token: s.refresh }, { DPoP: dpop });
    const { error_description } = await expectOAuthError(replay, 400, 'invalid_dpop_proof');
    expect(error_description).toMatch(/used before/);
    expect((await server.db.one<{ revoked_at: Date | null }>('SELECT revoked_at FROM oauth_access_tokens WHERE id = $1', [s.id]))?.revoked_at).toBeNull();
  });
});

describe('refreshing a bound session (RFC 9449 §5)', () => {
  it('when a bound refresh token comes without a proof, or with a proof of another key, then invalid_grant and nothing is spent', async () => {
    const s = await session();
    await expectOAuthError(await refreshWith(s.refresh), 400, 'invalid_grant');
    const { error_description } = await expectOAuthError(await refreshWith(s.refresh, await tokenProof(await proofKey())), 400, 'invalid_grant');
    expect(error_description).toMatch(/bound to a DPoP key/);
    const res = await refreshWith(s.refresh, await tokenProof());
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.token_type).toBe('DPoP');
    expect((await dpopMe(body.access_token)).status).toBe(200);
    await expectDpopRefusal(await meWith({ Authorization: `Bearer ${body.access_token}` }));
  });

  it('when a spent bound refresh token comes back without its key, then it is refused and the session lives on; with its key, it is reuse and the session ends', async () => {
    const s = await session();
    const renewed = await (await refreshWith(s.refresh, await tokenProof())).json();
    await expectOAuthError(await refreshWith(s.refresh), 400, 'invalid_grant');
    await expectOAuthError(await refreshWith(s.refresh, await tokenProof(await proofKey())), 400, 'invalid_grant');
    expect((await dpopMe(renewed.access_token)).status).toBe(200);
    await expectOAuthError(await refreshWith(s.refresh, await tokenProof()), 400, 'invalid_grant');
    expect(audit.events.some((e) => e.event === 'oauth.refresh_token_reused' && e.token_id === s.id)).toBe(true);
    expect((await dpopMe(renewed.access_token)).status).toBe(401);
  });

  it('when a bearer session is refreshed with a proof, then the new tokens are bound to that key from then on', async () => {
    const s = await session(null);
    const body = await (await refreshWith(s.refresh, await tokenProof())).json();
    expect(body.token_type).toBe('DPoP');
    expect((await server.db.one<{ dpop_jkt: string | null }>('SELECT dpop_jkt FROM oauth_access_tokens WHERE id = $1', [s.id]))?.dpop_jkt).toBe(key.jkt);
    await expectDpopRefusal(await meWith({ Authorization: `Bearer ${body.access_token}` }));
    await expectOAuthError(await refreshWith(body.refresh_token), 400, 'invalid_grant');
  });
});

describe('bound tokens on the API (RFC 9449 §7)', () => {
  it('when a bound token comes as DPoP with a valid proof, then the request is served and counted like any other', async () => {
    const s = await session();
    const res = await dpopMe(s.access);
    expect(res.status).toBe(200);
    expect((await res.json()).sub).toBe(s.account.id);
    expect(res.headers.get('ratelimit-limit')).toBe('60');
    expect(res.headers.get('ratelimit-remaining')).toBe('59');
    // htu without the query, htm of a POST, on a route with an app.
    const workspaceId = await createWorkspace(server.db, s.account.id);
    const appId = await createTestApp(server.db, workspaceId);
    const apps = `${server.url}/openapi/v1/apps`;
    const list = await fetch(`${apps}?workspace_id=${workspaceId}`, { headers: dpopHeaders(s.access, await proof(key, { htm: 'GET', htu: apps, token: s.access })) });
    expect((await list.json()).data.map((a: { id: string }) => a.id)).toEqual([appId]);
    const runUrl = `${apps}/${appId}/chat-messages`;
    const run = await fetch(runUrl, {
      method: 'POST',
      headers: { ...dpopHeaders(s.access, await proof(key, { htm: 'POST', htu: runUrl, token: s.access })), 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: {}, query: 'hello there' }),
    });
    expect(run.status).toBe(200);
    expect((await run.json()).answer).toBe('hello there');
  });

  it.each(['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'])('when the key is %s, then its proofs are accepted', async (alg) => {
    const k = await proofKey(alg);
    const s = await session(k);
    expect((await dpopMe(s.access, k)).status).toBe(200);
  });

  type Case = [string, (token: string) => Promise<Record<string, string>>, RegExp];
  const at = (token: string, o: Partial<Parameters<typeof proof>[1]> = {}) => proof(key, { htm: 'GET', htu: ME(), token, ...o });
  const now = () => Math.floor(Date.now() / 1000);
  const cases: Case[] = [
    ['a proof of another key', async (t) => dpopHeaders(t, await proof(await proofKey(), { htm: 'GET', htu: ME(), token: t })), /bound to another key/],
    ['another key signing under this key', async (t) => dpopHeaders(t, await proof(await proofKey(), { htm: 'GET', htu: ME(), token: t, header: { jwk: key.jwk } })), /signature/],
    ['the wrong htm', async (t) => dpopHeaders(t, await at(t, { htm: 'POST' })), /htm/],
    ['the wrong htu (another path)', async (t) => dpopHeaders(t, await at(t, { htu: `${server.url}/openapi/v1/workspaces` })), /htu.*Expected http/],
    ['the wrong htu (another host)', async (t) => dpopHeaders(t, await at(t, { htu: 'https://tessera.example/openapi/v1/me' })), /htu/],
    ['no ath', async (t) => dpopHeaders(t, await at(t, { claims: { ath: undefined } })), /ath/],
    ['the ath of another token', async (t) => dpopHeaders(t, await at(t, { claims: { ath: ath(`${t}x`) } })), /ath/],
    ['an iat two minutes old', async (t) => dpopHeaders(t, await at(t, { claims: { iat: now() - 120 } })), /iat/],
    ['an iat two minutes ahead', async (t) => dpopHeaders(t, await at(t, { claims: { iat: now() + 120 } })), /iat/],
    ['no jti', async (t) => dpopHeaders(t, await at(t, { claims: { jti: undefined } })), /jti/],
    ['alg none', async (t) => dpopHeaders(t, unsignedProof(key, { htm: 'GET', htu: ME(), token: t })), /algorithm/],
    ['HS256 with the public key as the secret', async (t) => dpopHeaders(t, await hs256(t)), /algorithm/],
    ['a private key in jwk', async (t) => dpopHeaders(t, await at(t, { header: { jwk: await exportJWK(key.privateKey) } })), /private key/],
    ['no typ', async (t) => dpopHeaders(t, await at(t, { header: { typ: undefined } })), /dpop\+jwt/],
    ['typ JWT', async (t) => dpopHeaders(t, await at(t, { header: { typ: 'JWT' } })), /dpop\+jwt/],
    ['no DPoP header', async (t) => ({ Authorization: `DPoP ${t}` }), /needs a DPoP header/],
    ['two DPoP headers', async (t) => ({ Authorization: `DPoP ${t}`, DPoP: `${await at(t)}, ${await at(t)}` }), /compact JWT/],
    ['the Bearer scheme', async (t) => ({ Authorization: `Bearer ${t}` }), /bound to a key/],
    ['the Bearer scheme with a valid proof beside it', async (t) => ({ Authorization: `Bearer ${t}`, DPoP: await at(t) }), /bound to a key/],
  ];

  /** HMAC over the proof with the key's own public JWK as the secret: the old algorithm-confusion attack. */
  async function hs256(token: string): Promise<string> {
    const secret = new TextEncoder().encode(JSON.stringify(key.jwk));
    return new SignJWT({ jti: uniq(), htm: 'GET', htu: ME(), iat: now(), ath: ath(token) }).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk }).sign(secret);
  }

  it.each(cases)('when a bound token comes with %s, then 401 invalid_token with a DPoP challenge that says why', async (_name, headers, why) => {
    const s = await session();
    await expectDpopRefusal(await meWith(await headers(s.access)), why);
    // The same token with a valid proof still works: nothing was spent but (at most) a request of the window.
    expect((await dpopMe(s.access)).status).toBe(200);
  });

  it('when a proof is sent twice, then the second is refused as a replay, on this replica and on the other', async () => {
    const s = await session();
    const headers = dpopHeaders(s.access, await proof(key, { htm: 'GET', htu: ME(), token: s.access }));
    expect((await meWith(headers)).status).toBe(200);
    const again = await meWith(headers);
    // Counted in the window like any request with the token, and said so.
    expect(again.headers.get('ratelimit-remaining')).toBe('58');
    await expectDpopRefusal(again, /used before/);
    const fresh = dpopHeaders(s.access, await proof(key, { htm: 'GET', htu: ME(), token: s.access }));
    expect((await meWith(fresh, other)).status).toBe(200);
    await expectDpopRefusal(await meWith(fresh, other), /used before/);
    await expectDpopRefusal(await meWith(fresh, server), /used before/);
  });

  it('when the htu differs from the request URL only by normalisation, or carries a query or fragment, then it matches', async () => {
    const s = await session();
    const { host } = new URL(server.url);
    for (const htu of [`HTTP://${host.toUpperCase()}/openapi/v1/me`, `${server.url}/openapi/v1/%6De`, `${server.url}/openapi/v1/./me`, `${server.url}/openapi/v1/me?x=1#f`]) {
      expect((await meWith(dpopHeaders(s.access, await proof(key, { htm: 'GET', htu, token: s.access })))).status, htu).toBe(200);
    }
  });

  it('when a bound token has expired, then token_expired comes with a DPoP challenge', async () => {
    const s = await session();
    await server.db.query("UPDATE oauth_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [s.id]);
    const res = await dpopMe(s.access);
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('token_expired');
    expect(res.headers.get('www-authenticate')).toBe(`DPoP realm="tessera", error="invalid_token", ${ALGS}`);
  });
});

describe('tokens that are not bound, sent as DPoP (RFC 9449 §7.2)', () => {
  it('when a bearer token comes as DPoP with a valid proof, then it is served; with an invalid proof, refused', async () => {
    const s = await session(null);
    expect((await dpopMe(s.access)).status).toBe(200);
    await expectDpopRefusal(await meWith(dpopHeaders(s.access, await proof(key, { htm: 'GET', htu: ME(), token: `${s.access}x` }))), /ath/);
    expect((await meWith({ Authorization: `Bearer ${s.access}` })).status).toBe(200);
  });

  it('when an API key without apps:read comes as DPoP to a route that needs it, then 403 insufficient_scope is challenged in DPoP', async () => {
    const account = await createAccount(server.db);
    const apiKey = await createApiKey(server.db, account.id, ['apps:run']);
    const url = `${server.url}/openapi/v1/apps`;
    const res = await fetch(url, { headers: dpopHeaders(apiKey, await proof(key, { htm: 'GET', htu: url, token: apiKey })) });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe(`DPoP realm="tessera", error="insufficient_scope", scope="apps:read", ${ALGS}`);
  });

  it('when a token no strategy claims comes as DPoP, then 401 invalid_token with a DPoP challenge and nothing counted', async () => {
    const res = await meWith({ Authorization: 'DPoP not-a-token', DPoP: await proof(key, { htm: 'GET', htu: ME(), token: 'not-a-token' }) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`DPoP realm="tessera", error="invalid_token", ${ALGS}`);
    expect(res.headers.get('ratelimit-limit')).toBeNull();
  });
});

describe('DPoP on the in-process store (one replica)', () => {
  it('when a proof is sent twice to a server without Redis, then the second is refused as a replay', async () => {
    const single = await startServer({ store: 'memory' });
    try {
      const account = await createAccount(single.db);
      const t = await single.app.services.tokens.mintAccountToken({ accountId: account.id, email: account.email, clientId: 'tessera-cli', deviceLabel: `dev-${uniq()}`, dpopJkt: key.jkt });
      const headers = dpopHeaders(t.token, await proof(key, { htm: 'GET', htu: `${single.url}/openapi/v1/me`, token: t.token }));
      expect((await meWith(headers, single)).status).toBe(200);
      await expectDpopRefusal(await meWith(headers, single), /used before/);
    } finally {
      await single.close();
    }
  });
});
