import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin } from '../helpers/admin.ts';
import { createTestApp, createWorkspace, uniq } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const ISSUER = 'https://idp.admin.example';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ config: { edition: 'enterprise' } });
});
afterAll(() => server.close());

async function tse(email: string) {
  const minted = await server.app.services.tokens.mintExternalToken({ subject: { issuer: ISSUER, sub: `sub-${uniq()}`, email, name: null }, clientId: 'tessera-cli', deviceLabel: 'cli' });
  return { Authorization: `Bearer ${minted.token}` };
}

describe('tessera-server admin: app grants', () => {
  it('when an operator sets the access mode, grants, lists and revokes, then the running server follows each change (published over Redis)', async () => {
    const ws = await createWorkspace(server.db);
    const app = await createTestApp(server.db, ws, { name: 'Helpdesk' });
    const email = `grant-${uniq()}@corp.example`;
    const auth = await tse(email);
    const info = () => fetch(`${server.url}/openapi/v1/apps/${app}/info`, { headers: auth }).then((r) => r.status);

    const [refused, both] = await Promise.all([
      admin('grant-app', '--app', app, '--issuer', ISSUER, '--email', email),
      admin('grant-app', '--app', app, '--issuer', ISSUER, '--email', email, '--domain', 'corp.example'),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('has access mode workspace; only apps in access mode external can be granted');
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('give exactly one of --email and --domain');
    expect(await server.db.query('SELECT 1 FROM app_grants WHERE app_id = $1', [app])).toHaveLength(0);

    expect(JSON.parse((await admin('set-access-mode', '--app', app, '--mode', 'external', '--json')).stdout)).toEqual({ app_id: app, access_mode: 'external' });
    expect(await info()).toBe(404);
    const granted = await admin('grant-app', '--app', app, '--issuer', ISSUER, '--email', email.toUpperCase(), '--json');
    expect(granted.code).toBe(0);
    expect(JSON.parse(granted.stdout)).toMatchObject({ app_id: app, issuer: ISSUER, email, domain: null, created: true });
    await expect.poll(info, { timeout: 1_000, interval: 20 }).toBe(200);

    expect((await admin('list-app-grants', '--app', app)).stdout).toBe(`${ISSUER}  ${email}\n`);
    const revoked = await admin('revoke-app-grant', '--app', app, '--issuer', ISSUER, '--email', email, '--json');
    expect(JSON.parse(revoked.stdout)).toMatchObject({ email, revoked: true });
    await expect.poll(info, { timeout: 1_000, interval: 20 }).toBe(404);
  });
});
