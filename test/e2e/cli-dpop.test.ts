import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { cli, recordingProxy } from '../helpers/cli.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { createAccount, createTestApp, createWorkspace, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// The real `tessera` binds its device logins to a key of this machine (DPoP, RFC 9449) by
// default: one ES256 key per host beside hosts.yml, a proof signed for every request, refresh
// with a proof; `login --no-dpop` opts out, and TESSERA_TOKEN stays a plain bearer token.
let server: TestServer;
let account: TestAccount;
let appId: string;
beforeAll(async () => {
  server = await startServer({ config: { devicePollIntervalSeconds: 1 } });
  account = await createAccount(server.db);
  appId = await createTestApp(server.db, await createWorkspace(server.db, account.id), { name: 'DPoP app' });
});
afterAll(() => server.close());

const configDir = () => mkdtemp(path.join(tmpdir(), 'tessera-cli-dpop-'));
const readHosts = async (dir: string) => parse(await readFile(path.join(dir, 'hosts.yml'), 'utf8'));
const asBearer = (token: string) => fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.status);
const rowOf = (token: string) => server.db.one<{ dpop_jkt: string | null; revoked_at: Date | null }>('SELECT dpop_jkt, revoked_at FROM oauth_access_tokens WHERE token_hash = $1', [hashToken(token)]);

/** `tessera login` as a person runs it: the code it prints, approved the way the /device page does. */
async function login(dir: string, args: string[] = [], host = server.url) {
  const run = cli(['login', '--no-browser', '--device-label', `dpop-${path.basename(dir)}`, ...args], { TESSERA_HOST: host, TESSERA_CONFIG_DIR: dir });
  const [, userCode] = await run.waitForStderr(/enter the code:\s+([A-Z]{4}-[A-Z]{4})/);
  expect((await decide(server, 'approve', userCode!, await consoleSignin(server, account))).status).toBe(200);
  return run.done;
}

describe('tessera login with DPoP', () => {
  it('when a user logs in, then the login is bound to a 0600 key of this machine, every command signs its requests, and the token alone is useless', async () => {
    const dir = await configDir();
    const env = { TESSERA_CONFIG_DIR: dir };
    const res = await login(dir);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('bound to this machine (DPoP)');

    const stored = (await readHosts(dir)).hosts[server.url];
    const keys = path.join(dir, 'keys');
    const [file] = await readdir(keys);
    expect((await stat(keys)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(keys, file!))).mode & 0o777).toBe(0o600);
    const jwk = JSON.parse(await readFile(path.join(keys, file!), 'utf8'));
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', d: expect.any(String) });
    const jkt = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
    expect(stored.dpop_jkt).toBe(jkt);
    expect((await rowOf(stored.token))?.dpop_jkt).toBe(jkt);

    const who = await cli(['whoami', '--json'], env).done;
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ email: account.email, dpop_bound: true });
    const run = await cli(['run', appId, '--query', 'hello dpop', '--no-stream', '--json'], env).done;
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).answer).toBe('hello dpop');
    // A copy of the token (a pasted command, a debug log) works for nobody without the key.
    expect(await asBearer(stored.token)).toBe(401);

    const status = await cli(['auth', 'status'], env).done;
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/Bound: +yes, to this machine's key \(DPoP\)/);
    expect(JSON.parse((await cli(['auth', 'status', '--json'], env).done).stdout).hosts[0]).toMatchObject({ dpop_bound: true, accepted: true });
  }, 40_000);

  it('when the access token is about to expire, then the CLI renews it with a proof and the new tokens are bound to the same key', async () => {
    const dir = await configDir();
    expect((await login(dir)).code).toBe(0);
    const file = path.join(dir, 'hosts.yml');
    const hosts = await readHosts(dir);
    const before = hosts.hosts[server.url];
    hosts.hosts[server.url].expires_at = new Date(Date.now() + 10_000).toISOString();
    await writeFile(file, stringify(hosts), { mode: 0o600 });
    const who = await cli(['whoami', '--json'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(who.code, who.stderr).toBe(0);
    const after = (await readHosts(dir)).hosts[server.url];
    expect(after.token).not.toBe(before.token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.dpop_jkt).toBe(before.dpop_jkt);
    expect((await rowOf(after.token))?.dpop_jkt).toBe(before.dpop_jkt);
    expect(await asBearer(before.token)).toBe(401);
    // Logging out ends the session on the server.
    expect((await cli(['logout'], { TESSERA_CONFIG_DIR: dir }).done).code).toBe(0);
    expect((await server.db.one<{ revoked_at: Date | null }>('SELECT revoked_at FROM oauth_access_tokens WHERE dpop_jkt = $1 ORDER BY created_at DESC LIMIT 1', [after.dpop_jkt]))?.revoked_at).toBeInstanceOf(Date);
  }, 40_000);

  it('when the key file is damaged or gone, then commands say so and to log in again (exit 2), and auth status shows it rejected', async () => {
    const dir = await configDir();
    expect((await login(dir)).code).toBe(0);
    const [file] = await readdir(path.join(dir, 'keys'));
    await writeFile(path.join(dir, 'keys', file!), '{"kty":', { mode: 0o600 });
    const damaged = await cli(['whoami'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(damaged.code).toBe(2);
    expect(damaged.stderr).toMatch(/The key in .*\.jwk cannot be read/);
    await rm(path.join(dir, 'keys'), { recursive: true });
    const who = await cli(['whoami'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(who.code).toBe(2);
    expect(who.stderr).toMatch(/bound to a key that is not in .*keys.*\.jwk/);
    expect(who.stderr).toContain('tessera login');
    const status = await cli(['auth', 'status', '--json'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(status.code).toBe(2);
    expect(JSON.parse(status.stdout).hosts[0]).toMatchObject({ dpop_bound: true, state: 'rejected', error: 'dpop_key_missing' });
  }, 40_000);

  it('when a user logs in with --no-dpop, then no key is made and the token is a bearer token, as auth status says', async () => {
    const dir = await configDir();
    const res = await login(dir, ['--no-dpop']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).not.toContain('DPoP');
    const stored = (await readHosts(dir)).hosts[server.url];
    expect(stored.dpop_jkt).toBeUndefined();
    await expect(stat(path.join(dir, 'keys'))).rejects.toThrow(/ENOENT/);
    expect((await rowOf(stored.token))?.dpop_jkt).toBeNull();
    expect(await asBearer(stored.token)).toBe(200);
    const status = await cli(['auth', 'status'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(status.stdout).toMatch(/Bound: +no, a bearer token/);
  }, 40_000);

  it('when TESSERA_TOKEN holds a bound token, then the CLI sends it as a plain bearer token, unsigned, and the server refuses it', async () => {
    const dir = await configDir();
    expect((await login(dir)).code).toBe(0);
    const bound = (await readHosts(dir)).hosts[server.url].token;
    const refused = await cli(['whoami'], { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: server.url, TESSERA_TOKEN: bound }).done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('The token in TESSERA_TOKEN is not valid');
  }, 40_000);

  it('when the host is another address than the server knows itself by, then login fails at once and says how to log in', async () => {
    const proxy = await recordingProxy(server.url);
    try {
      const res = await login(await configDir(), [], proxy.url);
      expect(res.code).toBe(3);
      expect(res.stderr).toContain('invalid_dpop_proof');
      expect(res.stderr).toContain(`Expected ${server.url}/openapi/v1/oauth/token`);
      expect(res.stderr).toContain('--no-dpop');
    } finally {
      await proxy.close();
    }
  }, 40_000);
});
