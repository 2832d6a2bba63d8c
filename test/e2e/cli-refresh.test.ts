import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { cli, recordingProxy, type RecordedRequest } from '../helpers/cli.ts';
import { refreshGrant } from '../helpers/device.ts';
import { createAccount, createTestApp, createWorkspace, mintSession, type TestAccount } from '../helpers/fixtures.ts';
import { until } from '../helpers/processes.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// The CLI keeps a device login alive with its refresh token: before the access token expires,
// and when the server says token_expired; two tessera processes renew one login once.
let server: TestServer;
let account: TestAccount;
let appId: string;
beforeAll(async () => {
  server = await startServer();
  account = await createAccount(server.db);
  appId = await createTestApp(server.db, await createWorkspace(server.db, account.id), { name: 'Refresh app' });
});
afterAll(() => server.close());

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
const hostsFile = (dir: string) => path.join(dir, 'hosts.yml');
const readLogin = async (dir: string, host: string) => parse(await readFile(hostsFile(dir), 'utf8')).hosts[host];
const isRefresh = (r: RecordedRequest) => r.method === 'POST' && r.path === '/openapi/v1/oauth/token' && r.body.includes('grant_type=refresh_token');
const me = (token: string) => fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.status);

/** A device login stored as `tessera login` stores it, whose access token the CLI believes expires in `expiresInMs`. */
async function storedLogin(host: string, expiresInMs: number) {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-cli-'));
  const s = await mintSession(server, account);
  const login = { token: s.access, expires_at: inMs(expiresInMs), email: account.email, refresh_token: s.refresh!, refresh_expires_at: inMs(30 * 86_400_000) };
  await writeFile(hostsFile(dir), stringify({ current_host: host, hosts: { [host]: login } }), { mode: 0o600 });
  return { dir, session: s, env: { TESSERA_CONFIG_DIR: dir } };
}

describe('staying logged in', () => {
  it('when the access token is about to expire, then the next command renews the login first and stores both new tokens', async () => {
    const { dir, session, env } = await storedLogin(server.url, 30_000);
    const who = await cli(['whoami', '--json'], env).done;
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ email: account.email, token_kind: 'tsa_' });
    const stored = await readLogin(dir, server.url);
    expect(stored.token).toMatch(/^tsa_/);
    expect(stored.token).not.toBe(session.access);
    expect(stored.refresh_token).toMatch(/^tsr_/);
    expect(stored.refresh_token).not.toBe(session.refresh);
    expect(Date.parse(stored.expires_at) - Date.now()).toBeGreaterThan(50 * 60_000);
    expect(Date.parse(stored.refresh_expires_at) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(await me(session.access)).toBe(401);
    expect(await me(stored.token)).toBe(200);
  });

  it('when the server answers token_expired, then the CLI renews the login and sends the request again, once', async () => {
    const proxy = await recordingProxy(server.url);
    try {
      const { dir, session, env } = await storedLogin(proxy.url, 50 * 60_000);
      await server.db.query(`UPDATE oauth_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [session.id]);
      const run = await cli(['apps', 'info', appId, '--json'], env).done;
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ id: appId, name: 'Refresh app' });
      expect(proxy.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual([
        `GET /openapi/v1/apps/${appId}/info`,
        'POST /openapi/v1/oauth/token',
        `GET /openapi/v1/apps/${appId}/info`,
      ]);
      const stored = await readLogin(dir, proxy.url);
      expect(hashToken(stored.token)).toBe((await server.db.one<{ token_hash: string }>('SELECT token_hash FROM oauth_access_tokens WHERE id = $1', [session.id]))!.token_hash);
    } finally {
      await proxy.close();
    }
  });

  it('when whoami meets token_expired, then the rest of the command uses the renewed token too (the workspace name is read)', async () => {
    const { env, session } = await storedLogin(server.url, 50 * 60_000);
    await server.db.query(`UPDATE oauth_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [session.id]);
    const run = await cli(['whoami', '--json'], env).done;
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).default_workspace).toEqual({ id: expect.any(String), name: expect.stringMatching(/^ws-/) });
  });

  it('when two tessera processes need to renew one login at once, then one renews it under the lock, the other waits and uses the new tokens', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const proxy = await recordingProxy(server.url, (r) => (isRefresh(r) ? held : Promise.resolve()));
    try {
      const { dir, session, env } = await storedLogin(proxy.url, 10_000);
      const a = cli(['whoami', '--json'], env);
      const b = cli(['whoami', '--json'], env);
      // One process's refresh is on its way (held back here); the other finds the lock taken.
      await until(async () => proxy.requests.some(isRefresh), 'a refresh request', 15_000);
      await Promise.any([a, b].map((p) => p.waitForStderr(/Another tessera command is renewing the login/, 15_000)));
      release();
      const [ra, rb] = await Promise.all([a.done, b.done]);
      expect([ra.code, rb.code], `${ra.stderr}\n${rb.stderr}`).toEqual([0, 0]);
      expect(JSON.parse(ra.stdout).email).toBe(account.email);
      expect(JSON.parse(rb.stdout).email).toBe(account.email);
      expect(proxy.requests.filter(isRefresh)).toHaveLength(1);
      expect(await server.db.query('SELECT 1 FROM oauth_spent_refresh_tokens WHERE session_id = $1', [session.id])).toHaveLength(1);
      const stored = await readLogin(dir, proxy.url);
      expect(await me(stored.token)).toBe(200);
    } finally {
      release();
      await proxy.close();
    }
  }, 60_000);

  it('when auth status runs, then it shows when the access token expires and until when the refresh token renews it', async () => {
    const { env } = await storedLogin(server.url, 50 * 60_000);
    const text = await cli(['auth', 'status'], env).done;
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Expires: {2}\S.*\n {2}Renews: {3}until \S.* with the refresh token/);
    const json = JSON.parse((await cli(['auth', 'status', '--json'], env).done).stdout);
    expect(json.hosts[0]).toMatchObject({ accepted: true, token_kind: 'tsa_' });
    expect(Date.parse(json.hosts[0].expires_at) - Date.now()).toBeGreaterThan(50 * 60_000);
    expect(Date.parse(json.hosts[0].refresh_token_expires_at) - Date.now()).toBeGreaterThan(29 * 86_400_000);
  });

  it('when TESSERA_TOKEN holds an expired access token, then it is not renewed: it is a plain access token', async () => {
    const { dir, session, env } = await storedLogin(server.url, 50 * 60_000);
    await server.db.query(`UPDATE oauth_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [session.id]);
    const run = await cli(['whoami'], { ...env, TESSERA_TOKEN: session.access }).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('The token in TESSERA_TOKEN has expired.');
    expect((await readLogin(dir, server.url)).refresh_token).toBe(session.refresh);
    expect((await server.db.one<{ last_refreshed_at: Date | null }>('SELECT last_refreshed_at FROM oauth_access_tokens WHERE id = $1', [session.id]))!.last_refreshed_at).toBeNull();
  });

  it('when the session was ended on the server, then the CLI says to log in again', async () => {
    const { env, session } = await storedLogin(server.url, 10_000);
    await server.app.services.tokens.revokeTokenId(session.id, 'revoked');
    const run = await cli(['whoami'], env).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^tessera: Your login for ${server.url} has ended \\(invalid_grant: .+\\)\\.\\nRun \`tessera login\`\\.\\n$`));
  });

  it('when logging out with an expired access token, then the refresh token still ends the session on the server', async () => {
    const { dir, session, env } = await storedLogin(server.url, -60_000);
    const run = await cli(['logout', '--json'], env).done;
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ host: server.url, logged_out: true, revoked_on_server: true });
    expect((await refreshGrant(server, session.refresh!)).status).toBe(400);
    expect(parse(await readFile(hostsFile(dir), 'utf8')).hosts).toEqual({});
  });
});
