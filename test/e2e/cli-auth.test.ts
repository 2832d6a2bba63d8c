import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { GrantAdmin } from '../../src/admin/grants-admin.ts';
import { generateToken } from '../../src/auth/token-kinds.ts';
import { VERSION } from '../../src/version.ts';
import { cli, closedPortUrl, recordingProxy } from '../helpers/cli.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { createAccount, createApiKey, createTestApp, createWorkspace, mintToken, uniq, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// Logins and who they are: --with-token, auth status, replacing a login, workspaces, versions, SSO (tse_) logins.
let server: TestServer;
let enterprise: TestServer;
let proxy: Awaited<ReturnType<typeof recordingProxy>>;
let account: TestAccount;
let workspaceA: string;
let workspaceB: string;
let appA: string;
let appB: string;
beforeAll(async () => {
  server = await startServer({ config: { devicePollIntervalSeconds: 1 } });
  enterprise = await startServer({ config: { edition: 'enterprise' } });
  // A second address for the same server: a second "host" in hosts.yml, and a record of the routes the CLI calls.
  proxy = await recordingProxy(server.url);
  account = await createAccount(server.db);
  workspaceA = await createWorkspace(server.db, account.id);
  workspaceB = await createWorkspace(server.db, account.id, 'normal');
  appA = await createTestApp(server.db, workspaceA, { name: 'App in A' });
  appB = await createTestApp(server.db, workspaceB, { name: 'App in B' });
});
afterAll(async () => {
  await proxy.close();
  await Promise.all([server.close(), enterprise.close()]);
});

const configDir = () => mkdtemp(path.join(tmpdir(), 'tessera-cli-'));
const hostsFile = (dir: string) => path.join(dir, 'hosts.yml');
const readHosts = async (dir: string) => parse(await readFile(hostsFile(dir), 'utf8'));

async function writeHosts(dir: string, current: string, hosts: Record<string, string>): Promise<void> {
  const entries = Object.fromEntries(
    Object.entries(hosts).map(([host, token]) => [host, { token, expires_at: new Date(Date.now() + 14 * 86_400_000).toISOString(), email: account.email }]),
  );
  await writeFile(hostsFile(dir), stringify({ current_host: current, hosts: entries }), { mode: 0o600 });
}

/** A `tse_` token minted the way the external-SSO branch of the device flow mints it (no account; tied to the IdP subject). */
async function externalToken(issuer: string, on: TestServer = server, email = `sso-${uniq()}@corp.example`): Promise<string> {
  const subject = { issuer, sub: `sub-${uniq()}`, email, name: 'SSO User' };
  return (await on.app.services.tokens.mintExternalToken({ subject, clientId: 'tessera-cli', deviceLabel: `dev-${uniq()}` })).token;
}

describe('login --with-token', () => {
  it('when an API key is piped in, then it is checked on /me and stored, and later commands use it', async () => {
    const dir = await configDir();
    const key = await createApiKey(server.db, account.id, ['apps:read', 'apps:run']);
    const res = await cli(['login', '--with-token'], { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: dir }, { input: `${key}\n` }).done;
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`Logged in to ${server.url} as ${account.email}`);
    expect(res.stdout).toContain('Token: tsk_ API key, does not expire');
    expect((await stat(hostsFile(dir))).mode & 0o777).toBe(0o600);
    expect((await readHosts(dir)).hosts[server.url]).toMatchObject({ token: key, expires_at: null, email: account.email });
    const who = await cli(['whoami', '--json'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ email: account.email, prefix: 'tsk_', token_kind: 'tsk_', scopes: ['apps:read', 'apps:run'] });
  });

  it('when the piped token is not accepted or missing, then nothing is stored and the message says what to pass', async () => {
    const dir = await configDir();
    const env = { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: dir };
    const bad = await cli(['login', '--with-token'], env, { input: generateToken('tsk_') }).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      `tessera: ${server.url} did not accept the token from standard input (invalid_token).\nPass a token for this server: an API key (tsk_) or a token from \`tessera-server admin mint-token\`.\n`,
    );
    const empty = await cli(['login', '--with-token', '--json'], env, { input: '\n' }).done;
    expect(empty.code).toBe(1);
    expect(empty.stdout).toBe('');
    expect(empty.stderr).toMatch(/^tessera: No token on standard input\.\nFor example: `echo "\$TESSERA_API_KEY" \| tessera login --with-token`\n$/);
    await expect(stat(hostsFile(dir))).rejects.toThrow(/ENOENT/);
  });
});

describe('replacing a login', () => {
  it('when the host already has a live login and there is no terminal, then login refuses with the --force command; --force replaces it', async () => {
    const dir = await configDir();
    const old = await mintToken(server, account);
    await writeHosts(dir, server.url, { [server.url]: old });
    const env = { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: dir };
    const before = proxy.requests.length;

    const refused = await cli(['login', '--no-browser'], env).done;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `tessera: Already logged in to ${server.url} as ${account.email}, with a tsa_ device login (account).\nTo replace it, run \`tessera login --force\`.\n`,
    );
    const key = await createApiKey(server.db, account.id, ['apps:read']);
    const refusedToken = await cli(['login', '--with-token'], env, { input: key }).done;
    expect(refusedToken.code).toBe(1);
    expect(refusedToken.stderr).toContain('To replace it, run `tessera login --with-token --force`.');
    expect((await readHosts(dir)).hosts[server.url].token).toBe(old);

    const forced = cli(['login', '--no-browser', '--force'], env);
    const [, code] = await forced.waitForStderr(/enter the code:\s+([A-Z]{4}-[A-Z]{4})/);
    expect((await decide(server, 'approve', code!, await consoleSignin(server, account))).status).toBe(200);
    expect((await forced.done).code).toBe(0);
    expect((await readHosts(dir)).hosts[server.url].token).toMatch(/^tsa_/);
    expect((await readHosts(dir)).hosts[server.url].token).not.toBe(old);
    expect(proxy.requests.length).toBe(before);
  }, 30_000);
});

describe('auth status', () => {
  it('when logins are valid, then each host shows its user, token kind, local expiry with a relative form, and that the server accepts it', async () => {
    const dir = await configDir();
    await writeHosts(dir, server.url, { [server.url]: await mintToken(server, account), [proxy.url]: await mintToken(server, account) });
    const env = { TESSERA_CONFIG_DIR: dir, TZ: 'Asia/Tokyo' };
    const json = await cli(['auth', 'status', '--json'], env).done;
    expect(json.code).toBe(0);
    const { hosts } = JSON.parse(json.stdout);
    expect(hosts).toEqual([
      expect.objectContaining({ host: server.url, current: true, in_use: true, source: 'hosts.yml', email: account.email, token_kind: 'tsa_', state: 'valid', accepted: true, error: null }),
      expect.objectContaining({ host: proxy.url, current: false, token_kind: 'tsa_', state: 'valid', accepted: true }),
    ]);
    expect(hosts[0].expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    const human = await cli(['status'], env).done;
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`${server.url}  (current)`);
    expect(human.stdout).toContain(`User:     ${account.email}`);
    expect(human.stdout).toContain('Token:    tsa_ device login (account)');
    // The access token's expiry, as the server reports it (an hour with refresh tokens on).
    expect(human.stdout).toMatch(/Expires: {2}\w{3} \d{1,2}, \d{4}, \d{1,2}:\d\d [AP]M GMT\+9 \(in (60 minutes|1 hour)\)/);
    expect(human.stdout.match(/Status: {3}✓ accepted by the server/g)).toHaveLength(2);
  });

  it('when a stored token was revoked, then status shows it rejected with the login command for that host, and exits 2', async () => {
    const dir = await configDir();
    const revoked = await mintToken(server, account);
    await writeHosts(dir, server.url, { [server.url]: await mintToken(server, account), [proxy.url]: revoked });
    await server.app.services.tokens.revokeByToken(revoked);
    const json = await cli(['auth', 'status', '--json'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).hosts[1]).toMatchObject({ host: proxy.url, state: 'rejected', accepted: false, error: 'invalid_token' });
    const human = await cli(['auth', 'status'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(human.code).toBe(2);
    expect(human.stdout).toContain(`Status:   ✗ rejected by the server (invalid_token). Run \`tessera login --host ${proxy.url}\`.`);
    expect(human.stderr).toBe('tessera: 1 of 2 logins is not usable right now (see above).\n');
  });

  it('when TESSERA_TOKEN is set, then status shows it as the token in use, over the stored login; with nothing at all it says to log in', async () => {
    const dir = await configDir();
    await writeHosts(dir, server.url, { [server.url]: await mintToken(server, account) });
    const key = await createApiKey(server.db, account.id, ['apps:run']);
    const res = await cli(['auth', 'status', '--json'], { TESSERA_CONFIG_DIR: dir, TESSERA_TOKEN: key }).done;
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).hosts).toEqual([
      expect.objectContaining({ host: server.url, source: 'TESSERA_TOKEN', in_use: true, token_kind: 'tsk_', expires_at: null, state: 'valid' }),
      expect.objectContaining({ host: server.url, source: 'hosts.yml', in_use: false, state: 'valid' }),
    ]);
    const none = await cli(['auth', 'status'], { TESSERA_CONFIG_DIR: await configDir() }).done;
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('tessera: Not logged in to any host.\nRun `tessera login`.\n');
  });
});

describe('workspaces', () => {
  it('when an account has two workspaces, then `workspaces` lists both with the default marked, and apps list --workspace filters by one', async () => {
    const env = { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: server.url, TESSERA_TOKEN: await mintToken(server, account) };
    const json = await cli(['workspaces', '--json'], env).done;
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ id: workspaceA, role: 'owner', current: true }),
      expect.objectContaining({ id: workspaceB, role: 'normal', current: false }),
    ]);
    const human = await cli(['workspaces'], env).done;
    expect(human.stdout).toMatch(new RegExp(`^ID\\s+NAME\\s+ROLE\\s+DEFAULT\\n${workspaceA}\\s+ws-\\w+\\s+owner\\s+yes\\n${workspaceB}\\s+ws-\\w+\\s+normal\\n$`));

    const inB = JSON.parse((await cli(['apps', 'list', '--workspace', workspaceB, '--json'], env).done).stdout);
    expect(inB.map((a: { id: string }) => a.id)).toEqual([appB]);
    const all = JSON.parse((await cli(['apps', 'list', '--json'], env).done).stdout);
    expect(all.map((a: { id: string }) => a.id).sort()).toEqual([appA, appB].sort());
  });
});

describe('single sign-on logins (tse_)', () => {
  it('when the token in use is a tse_ token, then apps list asks /apps/permitted and explains a 404; an account token asks /apps', async () => {
    const env = { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: proxy.url, TESSERA_TOKEN: await externalToken('https://idp.example.test') };
    const before = proxy.requests.length;
    const res = await cli(['apps', 'list'], env).done;
    const paths = proxy.requests.slice(before).map((r) => r.path);
    expect(paths).toEqual(['/openapi/v1/apps/permitted?page=1&limit=200']);
    expect(res.code).toBe(3);
    expect(res.stderr).toBe(
      `tessera: ${proxy.url} does not list permitted apps (GET /apps/permitted answered 404).\nYour login is a single sign-on login (tse_), which needs a server in the enterprise edition. Ask its operator whether EDITION=enterprise is set.\n`,
    );
    const withWorkspace = await cli(['apps', 'list', '--workspace', workspaceA], env).done;
    expect(withWorkspace.code).toBe(1);
    expect(withWorkspace.stderr).toContain('--workspace does not apply to a single sign-on login');
    expect(proxy.requests.length).toBe(before + 1);

    const account_ = await cli(['apps', 'list', '--json'], { ...env, TESSERA_TOKEN: await mintToken(server, account) }).done;
    expect(account_.code).toBe(0);
    expect(proxy.requests.at(-1)!.path).toBe('/openapi/v1/apps?page=1&limit=200');
  });

  it('when a tse_ login lists apps on an enterprise server, then it sees exactly the apps granted to it, and logout revokes the token there', async () => {
    const issuer = 'https://idp.example.test';
    const email = `sso-${uniq()}@corp.example`;
    const ws = await createWorkspace(enterprise.db);
    const granted = await createTestApp(enterprise.db, ws, { name: 'Granted app', accessMode: 'external' });
    await createTestApp(enterprise.db, ws, { name: 'Not granted', accessMode: 'external' });
    await new GrantAdmin(enterprise.db, (appId) => enterprise.app.services.grantVerdicts.invalidate(appId)).grant(granted, { issuer, email });
    const token = await externalToken(issuer, enterprise, email);
    const env = { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: enterprise.url, TESSERA_TOKEN: token };
    const list = await cli(['apps', 'list', '--json'], env).done;
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((a: { id: string }) => a.id)).toEqual([granted]);

    const dir = await configDir();
    expect((await cli(['login', '--with-token', '--host', enterprise.url], { TESSERA_CONFIG_DIR: dir }, { input: `${token}\n` }).done).code).toBe(0);
    const out = await cli(['logout'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(out.code).toBe(0);
    expect(out.stderr).not.toContain('did not revoke');
    expect((await fetch(`${enterprise.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('when a tse_ login asks who it is, then whoami shows the issuer it signed in through, and workspaces explains there are none', async () => {
    // tse_ tokens work only in the enterprise edition (docs/enterprise.md).
    const env = { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: enterprise.url, TESSERA_TOKEN: await externalToken('https://idp.example.test', enterprise) };
    const who = await cli(['whoami'], env).done;
    expect(who.code).toBe(0);
    expect(who.stdout).toContain('Token: tse_ device login (single sign-on) from TESSERA_TOKEN');
    expect(who.stdout).toContain('Signed in through: https://idp.example.test (single sign-on; you see the apps granted to you)');
    expect(who.stdout).not.toContain('Default workspace');
    expect(JSON.parse((await cli(['whoami', '--json'], env).done).stdout)).toMatchObject({ subject_issuer: 'https://idp.example.test', token_kind: 'tse_', default_workspace: null });
    const ws = await cli(['workspaces'], env).done;
    expect(ws.code).toBe(0);
    expect(ws.stdout).toBe('No workspaces.\n');
    expect(ws.stderr).toBe('A single sign-on login has no workspaces: it sees the apps granted to it. Run `tessera apps list`.\n');
  });
});

describe('versions', () => {
  it('when asked for the version, then the CLI prints its own, plus the server\'s when a host is known, and still exits 0 when it is down', async () => {
    const empty = { TESSERA_CONFIG_DIR: await configDir() };
    const alone = await cli(['--version'], empty).done;
    expect(alone).toMatchObject({ code: 0, stdout: `tessera ${VERSION}\n` });
    const withHost = await cli(['-V'], { ...empty, TESSERA_HOST: server.url }).done;
    expect(withHost.stdout).toBe(`tessera ${VERSION}\nserver ${VERSION} at ${server.url}\n`);
    const json = await cli(['version', '--json', '--host', server.url], empty).done;
    expect(JSON.parse(json.stdout)).toEqual({ cli: VERSION, server: { host: server.url, version: VERSION, error: null } });

    const loggedIn = await configDir();
    await writeHosts(loggedIn, server.url, { [server.url]: await mintToken(server, account) });
    expect((await cli(['version'], { TESSERA_CONFIG_DIR: loggedIn }).done).stdout).toContain(`server ${VERSION} at ${server.url}`);

    const dead = await closedPortUrl();
    const down = await cli(['--version', '--host', dead], empty).done;
    expect(down.code).toBe(0);
    expect(down.stdout).toBe(`tessera ${VERSION}\nserver at ${dead}: unknown (ECONNREFUSED)\n`);
  });
});
