import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantAdmin } from '../../src/admin/grants-admin.ts';
import { deviceFlowFor } from '../../src/device-flow/device-flow-service.ts';
import { recordKey } from '../../src/device-flow/device-scripts.ts';
import { externalKey } from '../../src/device-flow/external-approval.ts';
import { RedisStore } from '../../src/storage/store/index.ts';
import { countingStore } from '../helpers/counting-store.ts';
import { poll, startFlow } from '../helpers/device.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { createTestApp, createWorkspace, member, uniq } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectRefusedUncounted } from '../helpers/spec.ts';
import { idpUser, ssoLogin, startSsoPair, type SsoPair } from '../helpers/sso.ts';

// An operator switches EDITION back to community. External subjects (tse_ device logins)
// exist only in the enterprise edition: what was minted or approved while it ran stops
// there, although it is all still in the shared Postgres and Redis.
let pair: SsoPair;
let communityStore: ReturnType<typeof countingStore>;
let community: TestServer;

beforeAll(async () => {
  pair = await startSsoPair();
  communityStore = countingStore(await RedisStore.connect(TEST_REDIS_URL));
  // The same Postgres database and the same Redis as the enterprise server.
  community = await startServer({ store: communityStore });
});
afterAll(async () => {
  await Promise.all([pair.close(), community.close()]);
  await communityStore.close();
});

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('tse_ tokens in the community edition', () => {
  it('when a tse_ token minted while enterprise is presented to a community server, then /me, /me/sessions and runs of its granted app are 401 invalid_token, before any I/O', async () => {
    const user = idpUser();
    const { token } = await ssoLogin(pair, user);
    const enterprise = pair.server;
    const app = await createTestApp(enterprise.db, await createWorkspace(enterprise.db), { accessMode: 'external' });
    await new GrantAdmin(enterprise.db, (id) => enterprise.app.services.grantVerdicts.invalidate(id)).grant(app, { issuer: pair.idp.issuer, email: user.email });
    const chat = (s: TestServer) =>
      fetch(`${s.url}/openapi/v1/apps/${app}/chat-messages`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: {}, query: 'hello', response_mode: 'blocking' }),
      });
    // While enterprise, everything works.
    expect((await fetch(`${enterprise.url}/openapi/v1/me`, { headers: bearer(token) })).status).toBe(200);
    expect((await chat(enterprise)).status).toBe(200);

    communityStore.reset();
    const queries = community.db.queries;
    const refused = [
      await fetch(`${community.url}/openapi/v1/me`, { headers: bearer(token) }),
      await fetch(`${community.url}/openapi/v1/me/sessions`, { headers: bearer(token) }),
      await fetch(`${community.url}/openapi/v1/me/sessions/self`, { method: 'DELETE', headers: bearer(token) }),
      await chat(community),
    ];
    // Refused by shape, like an unknown prefix: no rate-limit window was touched.
    for (const res of refused) await expectRefusedUncounted(res);
    expect(communityStore.calls).toBe(0);
    expect(community.db.queries - queries).toBe(0);

    // The community server signed nothing out: back on the enterprise edition the login still works.
    expect((await fetch(`${enterprise.url}/openapi/v1/me`, { headers: bearer(token) })).status).toBe(200);
  });

  it('when an account token is presented to the same community server, then it still works (only external subjects are refused)', async () => {
    const m = await member(community);
    expect((await fetch(`${community.url}/openapi/v1/me`, { headers: m.auth })).status).toBe(200);
  });
});

describe('SSO approvals collected in the community edition', () => {
  /** A device code approved in the external-SSO branch on the enterprise server, as approve-external resolves it. */
  async function approvedExternally() {
    const flow = await startFlow(pair.server);
    const service = deviceFlowFor(pair.server.app.services);
    const found = await service.findPending(flow.user_code);
    const subject = { issuer: pair.idp.issuer, sub: `sub-${uniq()}`, email: `sso-${uniq()}@corp.example`, name: 'SSO User' };
    expect(await service.resolveExternal(found!.hash, found!.rec, subject, 'approved')).toBe('ok');
    return { flow, subject };
  }

  const liveTokensOf = async (email: string) =>
    (await community.db.query<{ n: number }>('SELECT count(*)::int AS n FROM oauth_access_tokens WHERE subject_email = $1', [email]))[0]!.n;

  it('when a community server is polled for an SSO approval, then invalid_grant with a description, no tse_ is minted, and the approval is left as it was', async () => {
    const { flow, subject } = await approvedExternally();
    for (let i = 0; i < 2; i++) {
      const res = await poll(community, flow.device_code);
      expect(res.status).toBe(400);
      expect(res.headers.get('cache-control')).toContain('no-store');
      const body = await res.json();
      expect(body).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining('enterprise edition') });
    }
    expect(await liveTokensOf(subject.email)).toBe(0);
    // Nothing was consumed: the enterprise edition still collects it, once.
    const res = await poll(pair.server, flow.device_code);
    expect(res.status).toBe(200);
    expect((await res.json()).access_token).toMatch(/^tse_/);
    expect(await liveTokensOf(subject.email)).toBe(1);
  });

  it('when the store lost the SSO approval and only its write-through to Postgres answers, then the community poll is invalid_grant too and nothing is minted', async () => {
    const { flow, subject } = await approvedExternally();
    const hash = sha256(flow.device_code);
    await pair.server.store.del(recordKey(hash));
    await pair.server.store.del(externalKey(hash));
    const res = await poll(community, flow.device_code);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe('invalid_grant');
    expect(await liveTokensOf(subject.email)).toBe(0);
  });
});
