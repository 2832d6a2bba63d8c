import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, createWorkspace, member } from '../helpers/fixtures.ts';
import { AIRGAP, AUD } from '../helpers/jwt-attacks.ts';
import { jwtServerConfig, minters, nowSec, startJwtIssuers, type JwtIssuers } from '../helpers/jwt-server.ts';
import { jwksOf, makeKey, mint, type TestKey } from '../helpers/jwks.ts';
import { get, post } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

// Key rotation mid-test, then the IdP's JWKS endpoint going down and coming back, through
// the HTTP API: 503 for that issuer's tokens only; the gateway's tokens, cached identities
// and opaque tokens keep working.
let issuers: JwtIssuers;
let proxy: TcpProxy;
let server: TestServer;
let workspace: string;
let mk: ReturnType<typeof minters>;

beforeAll(async () => {
  issuers = await startJwtIssuers();
  // The IdP's JWKS is reached through a proxy that can be cut and restored on the same port.
  proxy = TcpProxy.forUrl(issuers.idpJwks.url);
  await proxy.start();
  server = await startServer({ config: jwtServerConfig(issuers.trusted(proxy.url(issuers.idpJwks.url))) });
  workspace = await createWorkspace(server.db);
  mk = minters(issuers.kit, () => workspace);
});
afterAll(async () => {
  await server.close();
  await proxy.cut();
  await issuers.close();
});

/** Polls until `check` holds; bounded, for a server recovering by itself. */
async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

describe('JWKS rotation and outage', () => {
  it('when the IdP rotates its keys, then a token under the new kid verifies after one refetch', async () => {
    const { rotated } = issuers.kit;
    expect((await get(server, '/me', await mk.federated({ sub: 'before-rotation' }))).status).toBe(200);
    const fetched = issuers.idpJwks.requests;
    issuers.idpJwks.jwks = jwksOf(issuers.kit.rsa, issuers.kit.ec, rotated);
    expect((await get(server, '/me', await mk.federated({ sub: 'after-rotation' }, rotated))).status).toBe(200);
    expect(issuers.idpJwks.requests).toBe(fetched + 1);
    // The old key is withdrawn: a new token under it fails once the keys are refetched (an unknown kid does that).
    issuers.idpJwks.jwks = jwksOf(rotated);
    expect((await get(server, '/me', await mk.federated({ sub: 'x' }, await makeKey('RS256', 'unpublished')))).status).toBe(401);
    expect((await get(server, '/me', await mk.federated({ sub: 'old-key' }, issuers.kit.rsa))).status).toBe(401);
    expect((await get(server, '/me', await mk.federated({ sub: 'new-key' }, rotated))).status).toBe(200);
  });

  it('when the IdP\'s JWKS endpoint is down, then a token needing its keys is 503 for that issuer only, and it recovers when the endpoint returns', async () => {
    const { rotated } = issuers.kit;
    issuers.idpJwks.jwks = jwksOf(rotated);
    const cached = await mk.federated({ sub: 'cached-before-outage' }, rotated);
    expect((await get(server, '/me', cached)).status).toBe(200);
    const m = await member(server);
    const app = await createTestApp(server.db, workspace);

    await proxy.cut();
    // A kid published during the outage: its keys must be fetched, and cannot be.
    const next: TestKey = await makeKey('ES256', 'idp-ec-2');
    issuers.idpJwks.jwks = jwksOf(rotated, next);
    const needsKeys = await mk.federated({ sub: 'during-outage' }, next);
    for (const [method, path] of [
      ['get', '/me'],
      ['post', '/apps/{app_id}/chat-messages'],
    ] as const) {
      const res = method === 'get' ? await get(server, '/me', needsKeys) : await post(server, `/apps/${app}/chat-messages`, needsKeys, { inputs: {}, query: 'x' });
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = await res.json();
      expect(body.error).toBe('service_unavailable');
      expectMatchesSpec(method, path, 503, body);
    }

    // Everyone else is unaffected: cached identities, fresh tokens under keys already held,
    // another issuer's tokens (cold), inline-key issuers, opaque tokens.
    expect((await get(server, '/me', cached)).status).toBe(200);
    expect((await get(server, '/me', await mk.federated({ sub: 'known-kid' }, rotated))).status).toBe(200);
    expect((await get(server, `/apps/${app}/info`, await mk.gateway({ client_id: 'cold-gateway' }))).status).toBe(200);
    expect((await post(server, `/apps/${app}/chat-messages`, await mk.gateway({ client_id: 'cold-gateway-2' }), { inputs: {}, query: 'still here' })).status).toBe(200);
    expect((await get(server, '/me', m.token)).status).toBe(200);
    expect((await get(server, '/me', needsKeys)).status).toBe(503);

    await proxy.restore();
    await eventually(async () => (await get(server, '/me', needsKeys)).status === 200, 'the IdP token verifies again');
    expect((await get(server, '/me', await mk.federated({ sub: 'after-outage' }, next))).status).toBe(200);
  });
});

describe('an issuer whose keys are inline (air-gapped)', () => {
  it('when its token is used while every JWKS endpoint is down, then it verifies without any HTTP request', async () => {
    await proxy.cut();
    try {
      const token = await mint(issuers.kit.air, { iss: AIRGAP, aud: AUD, sub: 'edge-1', ws: workspace, scope: 'apps:run', iat: nowSec(), exp: nowSec() + 60 });
      expect((await get(server, '/me', token)).status).toBe(200);
    } finally {
      await proxy.restore();
    }
  });
});
