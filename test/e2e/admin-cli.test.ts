import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin } from '../helpers/admin.ts';
import { consoleSignin, signinRequest } from '../helpers/console.ts';
import { clientIp } from '../helpers/device.ts';
import { createAccount, uniq } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

describe('tessera-server admin', () => {
  it('when an operator creates an account, workspace, membership and app, then a minted token can use the app', async () => {
    const email = `admin-${uniq()}@example.test`;
    const account = JSON.parse((await admin('create-account', '--email', email, '--name', 'Ada', '--json')).stdout);
    expect(account).toMatchObject({ email, name: 'Ada' });
    expect(account.password).toMatch(/\S{12,}/);
    const ws = JSON.parse((await admin('create-workspace', '--name', 'Research', '--json')).stdout);
    const added = await admin('add-member', '--email', email, '--workspace', ws.id, '--role', 'editor', '--json');
    expect(JSON.parse(added.stdout)).toMatchObject({ workspace_id: ws.id, role: 'editor' });
    const config = JSON.stringify({ model: { provider: 'echo', name: 'echo-1' }, prompt: '{{ query }}' });
    const app = JSON.parse((await admin('create-app', '--workspace', ws.id, '--name', 'Helper', '--mode', 'chat', '--config', config, '--tags', 'a,b', '--json')).stdout);
    expect(app).toMatchObject({ name: 'Helper', mode: 'chat' });
    const minted = JSON.parse((await admin('mint-token', '--email', email, '--json')).stdout);
    expect(minted.access_token).toMatch(/^tsa_/);
    const res = await fetch(`${server.url}/openapi/v1/apps/${app.id}/info`, { headers: { Authorization: `Bearer ${minted.access_token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'Helper', tags: ['a', 'b'] });
    const key = JSON.parse((await admin('create-api-key', '--email', email, '--name', 'ci', '--scopes', 'apps:read', '--json')).stdout);
    const me = await fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${key.key}` } });
    expect(await me.json()).toMatchObject({ prefix: 'tsk_', scopes: ['apps:read'] });
  });

  it('when a password is reset, then every console session of the account ends on every replica at once, other accounts’ do not, and only the new password signs in', async () => {
    const other = await startServer();
    try {
      const account = await createAccount(server.db);
      const bystander = await createAccount(server.db);
      const logins = [await consoleSignin(server, account), await consoleSignin(other, account)];
      const theirs = await consoleSignin(server, bystander);
      const session = (url: string, cookie: string) => fetch(`${url}/console/api/session`, { headers: { cookie } });
      // Both replicas have seen (and cached) the sessions live.
      for (const { cookie } of logins) for (const url of [server.url, other.url]) expect((await session(url, cookie)).status).toBe(200);

      const reset = await admin('reset-password', '--email', account.email, '--json');
      expect(reset.code).toBe(0);
      const body = JSON.parse(reset.stdout);
      expect(body).toMatchObject({ id: account.id, email: account.email, password: expect.any(String), console_sessions_ended: 2 });
      for (const { cookie } of logins) for (const url of [server.url, other.url]) expect((await session(url, cookie)).status).toBe(401);
      expect((await session(other.url, theirs.cookie)).status).toBe(200);
      expect((await signinRequest(server, account.email, account.password, clientIp())).status).toBe(401);
      expect((await signinRequest(server, account.email, body.password, clientIp())).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it('when an app config is invalid for its mode, then the command fails with a clear message and creates nothing', async () => {
    const ws = JSON.parse((await admin('create-workspace', '--name', 'Bad', '--json')).stdout);
    const bad = await admin('create-app', '--workspace', ws.id, '--name', 'X', '--mode', 'completion', '--config', '{"model":{"provider":"echo","name":"e"},"prompt":"{% if %}"}');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid completion app config at prompt: invalid template/);
    const rows = await server.db.query('SELECT 1 FROM apps WHERE workspace_id = $1', [ws.id]);
    expect(rows).toHaveLength(0);
  });
});
