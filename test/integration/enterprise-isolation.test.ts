import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, member } from '../helpers/fixtures.ts';
import { post } from '../helpers/runs.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectMatchesSpec } from '../helpers/spec.ts';

// Regression: with EDITION=enterprise, WorkspaceMembershipCheck used to pass every caller, so an
// account token of workspace A read and ran workspace B's apps. Membership confines tsa_ and tsk_
// in both editions.
describe.each(['community', 'enterprise'] as const)('account tokens in the %s edition', (edition) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ config: { edition } });
  });
  afterAll(() => server.close());

  it("when a tsa_ token of workspace A asks for workspace B's app, then 404 on info and on runs, and nothing runs", async () => {
    const a = await member(server);
    const b = await member(server);
    const info = await fetch(`${server.url}/openapi/v1/apps/${b.appId}/info`, { headers: a.auth });
    expect(info.status).toBe(404);
    expectMatchesSpec('get', '/apps/{app_id}/info', 404, await info.json());
    const run = await post(server, `/apps/${b.appId}/chat-messages`, a.token, { inputs: {}, query: 'hello' });
    expect(run.status).toBe(404);
    expectMatchesSpec('post', '/apps/{app_id}/chat-messages', 404, await run.json());
    const rows = await server.db.query('SELECT 1 FROM messages WHERE app_id = $1', [b.appId]);
    expect(rows).toHaveLength(0);
    // The owner still reaches their own app.
    expect((await fetch(`${server.url}/openapi/v1/apps/${b.appId}/info`, { headers: b.auth })).status).toBe(200);
  });

  it("when a tsk_ key of workspace A asks for workspace B's app, then 404", async () => {
    const a = await member(server);
    const b = await member(server);
    const key = await createApiKey(server.db, a.account.id, ['apps:read', 'apps:run']);
    const res = await fetch(`${server.url}/openapi/v1/apps/${b.appId}/info`, { headers: { Authorization: `Bearer ${key}` } });
    expect(res.status).toBe(404);
    const run = await post(server, `/apps/${b.appId}/chat-messages`, key, { inputs: {}, query: 'hello' });
    expect(run.status).toBe(404);
  });
});
