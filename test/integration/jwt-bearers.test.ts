import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GrantAdmin } from '../../src/admin/grants-admin.ts';
import { RedisStore } from '../../src/storage/store/index.ts';
import { countingStore } from '../helpers/counting-store.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { createTestApp, createWorkspace, member, uniq } from '../helpers/fixtures.ts';
import { AIRGAP, AUD, GATEWAY, IDP, LISTED, LISTED_WORKSPACE } from '../helpers/jwt-attacks.ts';
import { jwtServerConfig, minters, nowSec, startJwtIssuers, type JwtIssuers } from '../helpers/jwt-server.ts';
import { mint } from '../helpers/jwks.ts';
import { get, post } from '../helpers/runs.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec, expectRefusedUncounted } from '../helpers/spec.ts';

// Federated and gateway JWTs end to end through the HTTP API: real keys (RS256, ES256,
// EdDSA), JWKS served over HTTP by the test, real Postgres and Redis.
let issuers: JwtIssuers;
let store: RedisStore;
let counting: ReturnType<typeof countingStore>;
let server: TestServer;
let community: TestServer;
let communityLog: ReturnType<typeof auditLog>;
let wsA: string;
let wsB: string;
let mk: ReturnType<typeof minters>;

beforeAll(async () => {
  issuers = await startJwtIssuers();
  store = await RedisStore.connect(TEST_REDIS_URL);
  counting = countingStore(store);
  server = await startServer({ store: counting, config: jwtServerConfig(issuers.trusted()) });
  communityLog = auditLog();
  community = await startServer({ log: communityLog.log, config: { trustedJwtIssuers: issuers.trusted() } });
  wsA = await createWorkspace(server.db);
  wsB = await createWorkspace(server.db);
  mk = minters(issuers.kit, () => wsA);
});
afterAll(async () => {
  await Promise.all([server.close(), community.close()]);
  await store.close();
  await issuers.close();
});

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const grants = () => new GrantAdmin(server.db, (appId) => server.app.services.grantVerdicts.invalidate(appId));
const chat = (token: string, appId: string, query = 'hello there') => post(server, `/apps/${appId}/chat-messages`, token, { inputs: {}, query });

/** A federated subject of the IdP with its own sub and email. */
const person = (domain = `corp-${uniq()}.example`) => ({ sub: `u-${uniq()}`, email: `ada-${uniq()}@${domain}`, domain });

describe('GET /me with a JWT', () => {
  it('when a federated token (RS256 or ES256) calls, then the principal is the IdP subject: prefix jwt, user, iss, expires_at from exp', async () => {
    for (const key of [issuers.kit.rsa, issuers.kit.ec]) {
      const p = person();
      const exp = nowSec() + 600;
      const token = await mk.federated({ sub: p.sub, email: p.email.toUpperCase(), name: 'Ada Lovelace', exp }, key);
      const res = await get(server, '/me', token);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toEqual({
        sub: p.sub,
        principal_type: 'user',
        email: p.email,
        display_name: 'Ada Lovelace',
        prefix: 'jwt',
        scopes: ['apps:run', 'apps:read:permitted'],
        expires_at: new Date(exp * 1000).toISOString(),
        subject_issuer: IDP,
        default_workspace_id: null,
      });
      expectMatchesSpec('get', '/me', 200, body);
      expect(res.headers.get('ratelimit-limit')).toBe('60');
      expect(res.headers.get('ratelimit-remaining')).toBe('59');
    }
  });

  it('when a gateway token (EdDSA) calls, then the principal is a service account of the claimed workspace', async () => {
    const exp = nowSec() + 120;
    const res = await get(server, '/me', await mk.gateway({ client_id: 'billing-service', exp }));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({
      sub: 'billing-service',
      principal_type: 'service_account',
      email: null,
      display_name: 'billing-service',
      prefix: 'jwt',
      scopes: ['apps:read', 'apps:run'],
      expires_at: new Date(exp * 1000).toISOString(),
      subject_issuer: GATEWAY,
      default_workspace_id: wsA,
    });
    expectMatchesSpec('get', '/me', 200, body);
  });
});

describe('federated JWTs: the rights of a tse_ token', () => {
  it('when an app is granted to the subject, then info, a run and /apps/permitted work; any other app is 404', async () => {
    const p = person();
    const granted = await createTestApp(server.db, wsB, { accessMode: 'external', name: `granted-${uniq()}` });
    const ungranted = await createTestApp(server.db, wsB, { accessMode: 'external' });
    const workspaceApp = await createTestApp(server.db, wsB);
    await grants().grant(granted, { issuer: IDP, email: p.email });
    const token = await mk.federated({ sub: p.sub, email: p.email });

    const info = await get(server, `/apps/${granted}/info`, token);
    expect(info.status).toBe(200);
    expectMatchesSpec('get', '/apps/{app_id}/info', 200, await info.json());
    const run = await chat(token, granted);
    expect(run.status).toBe(200);
    expectMatchesSpec('post', '/apps/{app_id}/chat-messages', 200, await run.json());
    const permitted = await get(server, '/apps/permitted', token);
    const list = await permitted.json();
    expectMatchesSpec('get', '/apps/permitted', 200, list);
    expect(list.data.map((a: { id: string }) => a.id)).toEqual([granted]);

    for (const id of [ungranted, workspaceApp, '00000000-0000-4000-8000-000000000000']) {
      const res = await get(server, `/apps/${id}/info`, token);
      expect(res.status).toBe(404);
      expectMatchesSpec('get', '/apps/{app_id}/info', 404, await res.json());
      expect((await chat(token, id)).status).toBe(404);
    }
  });

  it("when a federated token carries someone's email without email_verified=true, then it gets neither their grants nor their sessions: 401 invalid_token", async () => {
    const victim = person();
    const app = await createTestApp(server.db, wsB, { accessMode: 'external' });
    await grants().grant(app, { issuer: IDP, email: victim.email });
    // An IdP that lets its users type any address into their profile.
    for (const email_verified of [undefined, false, 'true']) {
      const token = await mk.federated({ sub: `u-${uniq()}`, email: victim.email, email_verified });
      for (const res of [await get(server, `/apps/${app}/info`, token), await chat(token, app), await get(server, '/me/sessions', token)]) {
        expect(res.status).toBe(401);
        expect((await res.json()).error).toBe('invalid_token');
      }
    }
    // The victim's own, verified token works.
    expect((await get(server, `/apps/${app}/info`, await mk.federated({ sub: victim.sub, email: victim.email }))).status).toBe(200);
  });

  it.each([
    ['get', '/apps'],
    ['get', '/workspaces'],
    ['get', '/me/api-keys'],
    ['post', '/me/api-keys'],
  ] as const)('when a federated token calls the account route %s %s, then 403 wrong_subject', async (method, path) => {
    const res = await fetch(`${server.url}/openapi/v1${path}`, {
      method: method.toUpperCase(),
      headers: { ...bearer(await mk.federated({ sub: `u-${uniq()}` })), 'content-type': 'application/json' },
      body: method === 'post' ? JSON.stringify({ name: 'x', scopes: ['apps:run'] }) : undefined,
    });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error).toBe('wrong_subject');
    expectMatchesSpec(method, path, 403, body);
  });

  it('when a federated token lists device sessions, then it sees the same person\'s tse_ logins (none of them current), and signing itself out is 403', async () => {
    const p = person();
    const login = await server.app.services.tokens.mintExternalToken({ subject: { issuer: IDP, sub: p.sub, email: p.email, name: 'Ada' }, clientId: 'tessera-cli', deviceLabel: 'laptop' });
    const token = await mk.federated({ sub: p.sub, email: p.email });
    const res = await get(server, '/me/sessions', token);
    expect(res.status).toBe(200);
    const list = await res.json();
    expectMatchesSpec('get', '/me/sessions', 200, list);
    expect(list.data).toEqual([expect.objectContaining({ id: login.id, device_label: 'laptop', current: false })]);
    const self = await fetch(`${server.url}/openapi/v1/me/sessions/self`, { method: 'DELETE', headers: bearer(token) });
    expect(self.status).toBe(403);
    expect((await self.json()).error).toBe('wrong_subject');
    expect((await get(server, '/me', login.token)).status).toBe(200);
  });

  it('when two subjects of one granted domain chat, then each run belongs to its (issuer, sub) and history is confined to it', async () => {
    const domain = `team-${uniq()}.example`;
    const ada = person(domain);
    const bob = person(domain);
    const app = await createTestApp(server.db, wsB, { accessMode: 'external' });
    await grants().grant(app, { issuer: IDP, domain });
    const adaToken = await mk.federated({ sub: ada.sub, email: ada.email });
    const bobToken = await mk.federated({ sub: bob.sub, email: bob.email });

    const res = await post(server, `/apps/${app}/chat-messages`, adaToken, { inputs: {}, query: 'mine alone', user: bob.sub });
    expect(res.status).toBe(200);
    const answer = await res.json();
    const [row] = await server.db.query<{ subject: string }>('SELECT subject FROM conversations WHERE id = $1', [answer.conversation_id]);
    expect(row!.subject).toBe(`external:${IDP.replaceAll(':', '%3A')}:${ada.sub}`);

    // A fresh token of the same subject sees the same history: it belongs to (iss, sub), not to a token.
    const again = await mk.federated({ sub: ada.sub, email: ada.email, jti: uniq() });
    const mine = await (await get(server, `/apps/${app}/conversations`, again)).json();
    expectMatchesSpec('get', '/apps/{app_id}/conversations', 200, mine);
    expect(mine.data.map((c: { id: string }) => c.id)).toEqual([answer.conversation_id]);
    expect((await (await get(server, `/apps/${app}/conversations`, bobToken)).json()).total).toBe(0);
    const foreign = await get(server, `/apps/${app}/conversations/${answer.conversation_id}/messages`, bobToken);
    expect(foreign.status).toBe(404);
    expectMatchesSpec('get', '/apps/{app_id}/conversations/{conversation_id}/messages', 404, await foreign.json());
  });
});

describe('gateway JWTs: a service account confined to its workspace', () => {
  it('when the app is in the claimed workspace, then info, a run and the caller\'s own history work', async () => {
    const app = await createTestApp(server.db, wsA);
    const token = await mk.gateway({ client_id: 'end-user-1' });
    expect((await get(server, `/apps/${app}/info`, token)).status).toBe(200);
    const res = await chat(token, app, 'through the gateway');
    expect(res.status).toBe(200);
    const answer = await res.json();
    expect(answer.answer).toBe('through the gateway');
    const [row] = await server.db.query<{ subject: string }>('SELECT subject FROM conversations WHERE id = $1', [answer.conversation_id]);
    expect(row!.subject).toBe(`external:${GATEWAY.replaceAll(':', '%3A')}:end-user-1`);
    const other = await mk.gateway({ client_id: 'end-user-2' });
    expect((await (await get(server, `/apps/${app}/conversations`, other)).json()).total).toBe(0);
    expect((await (await get(server, `/apps/${app}/conversations`, await mk.gateway({ client_id: 'end-user-1' }))).json()).total).toBe(1);
  });

  it('when a gateway token for workspace A calls an app of workspace B, then 404 for info and runs alike', async () => {
    const inB = await createTestApp(server.db, wsB);
    const external = await createTestApp(server.db, wsB, { accessMode: 'external' });
    const token = await mk.gateway();
    for (const id of [inB, external]) {
      const info = await get(server, `/apps/${id}/info`, token);
      expect(info.status).toBe(404);
      expectMatchesSpec('get', '/apps/{app_id}/info', 404, await info.json());
      const run = await chat(token, id);
      expect(run.status).toBe(404);
      expectMatchesSpec('post', '/apps/{app_id}/chat-messages', 404, await run.json());
    }
    // The same app answers once the token names its workspace.
    expect((await get(server, `/apps/${inB}/info`, await mk.gateway({ tessera_workspace: wsB }))).status).toBe(200);
  });

  it('when an app in the workspace is limited to listed members, then 403 forbidden; an external-mode app is open to it', async () => {
    const m = await member(server);
    const listed = await createTestApp(server.db, m.workspaceId, { accessMode: 'members', memberIds: [m.account.id] });
    const external = await createTestApp(server.db, m.workspaceId, { accessMode: 'external' });
    const token = await mk.gateway({ tessera_workspace: m.workspaceId });
    const res = await get(server, `/apps/${listed}/info`, token);
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error).toBe('forbidden');
    expectMatchesSpec('get', '/apps/{app_id}/info', 403, body);
    expect((await get(server, `/apps/${listed}/info`, m.token)).status).toBe(200);
    expect((await get(server, `/apps/${external}/info`, token)).status).toBe(200);
  });

  it.each([
    ['get', '/apps'],
    ['get', '/apps/permitted'],
    ['get', '/workspaces'],
    ['get', '/me/sessions'],
    ['delete', '/me/sessions/self'],
    ['get', '/me/api-keys'],
    ['post', '/me/api-keys'],
  ] as const)('when a gateway token calls %s %s, then 403 wrong_subject', async (method, path) => {
    const res = await fetch(`${server.url}/openapi/v1${path}`, {
      method: method.toUpperCase(),
      headers: { ...bearer(await mk.gateway()), 'content-type': 'application/json' },
      body: method === 'post' ? JSON.stringify({ name: 'x', scopes: ['apps:run'] }) : undefined,
    });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error).toBe('wrong_subject');
    expectMatchesSpec(method, path, 403, body);
  });

  it('when the token asks for more than the issuer allows, then it gets the intersection: apps:run only, so reading an app is 403 insufficient_scope', async () => {
    const app = await createTestApp(server.db, wsA);
    // The air-gapped gateway (inline keys) allows apps:run only.
    const claims = { iss: AIRGAP, aud: AUD, sub: `edge-${uniq()}`, ws: wsA, iat: nowSec(), exp: nowSec() + 300 };
    const token = await mint(issuers.kit.air, { ...claims, scope: 'apps:read apps:run full' });
    expect((await (await get(server, '/me', token)).json()).scopes).toEqual(['apps:run']);
    const info = await get(server, `/apps/${app}/info`, token);
    expect(info.status).toBe(403);
    expect(info.headers.get('www-authenticate')).toBe('Bearer realm="tessera", error="insufficient_scope", scope="apps:read"');
    const body = await info.json();
    expect(body.error).toBe('insufficient_scope');
    expectMatchesSpec('get', '/apps/{app_id}/info', 403, body);
    expect((await chat(token, app)).status).toBe(200);

    // No scope claim: still authenticated (the gateway owner learns what is missing), no route beyond /me.
    const bare = await mint(issuers.kit.air, { ...claims, sub: `edge-${uniq()}` });
    const me = await get(server, '/me', bare);
    expect(me.status).toBe(200);
    expect((await me.json()).scopes).toEqual([]);
    expect((await chat(bare, app)).status).toBe(403);
  });
});

describe("gateway JWTs: the issuer's workspaces list", () => {
  it('when a gateway issuer lists workspaces, then its tokens reach a listed workspace, and a token naming any other is 401 invalid_token, even where apps exist', async () => {
    // The listed workspace has a fixed id (the issuer entry is static); the database outlives test runs.
    await server.db.query("INSERT INTO workspaces (id, name) VALUES ($1, 'listed-gateway') ON CONFLICT (id) DO NOTHING", [LISTED_WORKSPACE]);
    const listedApp = await createTestApp(server.db, LISTED_WORKSPACE);
    const inA = await createTestApp(server.db, wsA);
    const allowed = await mk.gateway({ iss: LISTED, client_id: `svc-${uniq()}`, tessera_workspace: LISTED_WORKSPACE.toUpperCase() });
    expect((await get(server, `/apps/${listedApp}/info`, allowed)).status).toBe(200);
    expect((await chat(allowed, listedApp)).status).toBe(200);

    // The same gateway naming workspace A, whose apps exist: refused as a token, not as an app.
    const elsewhere = await mk.gateway({ iss: LISTED, client_id: `svc-${uniq()}`, tessera_workspace: wsA });
    for (const res of [await get(server, '/me', elsewhere), await get(server, `/apps/${inA}/info`, elsewhere), await chat(elsewhere, inA)]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tessera", error="invalid_token"');
      expect((await res.json()).error).toBe('invalid_token');
    }
  });

  it('when a gateway issuer lists no workspaces, then (for compatibility) its tokens may still name any workspace', async () => {
    for (const ws of [wsA, wsB]) {
      const app = await createTestApp(server.db, ws);
      expect((await get(server, `/apps/${app}/info`, await mk.gateway({ tessera_workspace: ws }))).status).toBe(200);
    }
  });
});

describe('the warm JWT path', () => {
  it('when a verified JWT calls again, then no JWKS fetch, no signature check, no Postgres query and exactly one store round trip', async () => {
    const p = person();
    const app = await createTestApp(server.db, wsB, { accessMode: 'external' });
    await grants().grant(app, { issuer: IDP, email: p.email });
    const federated = await mk.federated({ sub: p.sub, email: p.email });
    const gateway = await mk.gateway({ client_id: `svc-${uniq()}` });
    const gatewayApp = await createTestApp(server.db, wsA);
    const calls = [
      () => get(server, '/me', federated),
      () => get(server, `/apps/${app}/info`, federated),
      () => get(server, '/me', gateway),
      () => get(server, `/apps/${gatewayApp}/info`, gateway),
    ];
    for (const call of calls) expect((await call()).status).toBe(200); // cold: verified, cached
    const verify = vi.spyOn(server.app.services.jwtBearers!.verifier, 'verify');
    try {
      const jwks = issuers.idpJwks.requests + issuers.gatewayJwks.requests;
      // Opaque tokens of earlier tests left last_used_at marks; their 5 s timer must not write inside the window.
      await server.app.services.authenticator.flushLastUsed();
      const queries = server.db.queries;
      counting.reset();
      for (const call of calls) expect((await call()).status).toBe(200);
      expect(counting.calls).toBe(calls.length);
      expect(server.db.queries - queries).toBe(0);
      expect(verify).not.toHaveBeenCalled();
      expect(issuers.idpJwks.requests + issuers.gatewayJwks.requests).toBe(jwks);
    } finally {
      verify.mockRestore();
    }
  });
});

describe('RFC 7009 revocation of a JWT', () => {
  const revoke = (s: TestServer, token: string) =>
    fetch(`${s.url}/openapi/v1/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });

  it('when a JWT is sent for revocation, then 400 unsupported_token_type (§2.2.1) in the RFC shape, and the token keeps working', async () => {
    const token = await mk.federated({ sub: `u-${uniq()}` });
    for (const s of [server, community]) {
      const res = await revoke(s, token);
      expect(res.status).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('www-authenticate')).toBeNull();
      const body = await res.json();
      expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
      expect(body.error).toBe('unsupported_token_type');
    }
    expect((await get(server, '/me', token)).status).toBe(200);
  });

  it('when a dotted string that is not a JWT is sent, then 200 like any unknown token', async () => {
    expect((await revoke(server, 'not.a-jwt')).status).toBe(200);
  });
});

describe('JWTs in the community edition', () => {
  it('when a valid JWT of a configured issuer is sent, then 401 invalid_token without verifying it: no key fetch, no rate limit counted', async () => {
    expect(community.app.services.jwtBearers).toBeNull();
    expect(communityLog.lines.some((l) => l.includes('TRUSTED_JWT_ISSUERS is set, but JWT bearers need EDITION=enterprise'))).toBe(true);
    const jwks = issuers.idpJwks.requests;
    await expectRefusedUncounted(await fetch(`${community.url}/openapi/v1/me`, { headers: bearer(await mk.federated()) }));
    expect(issuers.idpJwks.requests).toBe(jwks);
  });
});
