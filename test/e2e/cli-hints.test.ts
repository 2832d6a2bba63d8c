import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_APPS } from '../../src/admin/seed.ts';
import { buildProgram } from '../../src/cli/program.ts';
import { cli, closedPortUrl, hangingConnectUrl } from '../helpers/cli.ts';
import { createAccount, createTestApp, createWorkspace, mintToken, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { listenLocal } from '../helpers/listen.ts';

// Help, the hints that name the fix, and the conveniences of `run`.
let server: TestServer;
let account: TestAccount;
let chatId: string;
let workflowId: string;
beforeAll(async () => {
  server = await startServer();
  account = await createAccount(server.db);
  const ws = await createWorkspace(server.db, account.id);
  chatId = await createTestApp(server.db, ws, { name: 'Hints chat' });
  workflowId = await createTestApp(server.db, ws, { name: 'Hints workflow', mode: 'workflow', config: DEMO_APPS.find((a) => a.mode === 'workflow')!.config });
});
afterAll(() => server.close());

const tmp = () => mkdtemp(path.join(tmpdir(), 'tessera-cli-'));
const withToken = async () => ({ TESSERA_CONFIG_DIR: await tmp(), TESSERA_HOST: server.url, TESSERA_TOKEN: await mintToken(server, account) });

describe('help', () => {
  it('when any command or group is asked for help, then it shows --host and --json and two or three examples, and no "(default: [])" noise', async () => {
    // Every command and group of the real command tree, so a command added later is covered too.
    const walk = (cmd: Command, path: string[]): string[][] => cmd.commands.flatMap((c) => [[...path, c.name()], ...walk(c, [...path, c.name()])]);
    const commands = walk(buildProgram(), []);
    expect(commands).toEqual(expect.arrayContaining([['auth'], ['auth', 'status'], ['apps'], ['apps', 'list'], ['apps', 'info'], ['run'], ['login']]));
    // One after another: a dozen Node processes at once would only crowd the other suites' CPU.
    for (const c of commands) {
      const h = await cli([...c, '--help'], {}).done;
      expect(h.code, c.join(' ')).toBe(0);
      expect(h.stdout, c.join(' ')).toMatch(/Global Options:\n\s+--host <url>[\s\S]*--json/);
      const examples = h.stdout.match(/Examples:\n((?: {2}\$ tessera .+\n)+)/);
      expect(examples, `examples of ${c.join(' ')}`).not.toBeNull();
      expect(examples![1]!.trimEnd().split('\n').length, c.join(' ')).toBeOneOf([2, 3]);
      expect(h.stdout).not.toContain('(default: [])');
    }
  });

  it('when the program is asked for help, then it names the environment variables and the exit codes', async () => {
    const { stdout } = await cli(['--help'], {}).done;
    for (const name of ['TESSERA_HOST', 'TESSERA_TOKEN', 'TESSERA_CONFIG_DIR', 'NO_COLOR']) expect(stdout).toContain(name);
    expect(stdout).toMatch(/Exit codes:\n\s+0\s+success\s+1\s+usage error[\s\S]*2\s+login needed[\s\S]*3\s+the server answered with an error[\s\S]*4\s+server unreachable/);
  });
});

describe('hints that name the fix', () => {
  it('when a required input is missing, then the inputs are listed with their types in the --input form, with a command to copy', async () => {
    const res = await cli(['run', workflowId], await withToken()).done;
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      [
        'tessera: Missing required input: name.',
        'Hints workflow takes these inputs:',
        '  --input name=…  Name (text, required, max 100)',
        `For example: tessera run ${workflowId} --input name=…`,
        '',
      ].join('\n'),
    );
  });

  it('when TESSERA_TOKEN is not valid, then the message says that variable is the token in use, not to run login', async () => {
    const res = await cli(['apps', 'list'], { TESSERA_CONFIG_DIR: await tmp(), TESSERA_HOST: server.url, TESSERA_TOKEN: 'tsk_not-a-real-key' }).done;
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      `tessera: The token in TESSERA_TOKEN is not valid for ${server.url} (invalid_token).\nTESSERA_TOKEN is the token in use: it overrides any stored login. Set it to a valid token, or unset it and run \`tessera login\`.\n`,
    );
  });

  it('when the host is unreachable, then whoami and login ask whether the server is running there, with exit 4', async () => {
    const dead = await closedPortUrl();
    const env = { TESSERA_CONFIG_DIR: await tmp(), TESSERA_HOST: dead };
    const who = await cli(['whoami'], { ...env, TESSERA_TOKEN: 'tsa_x' }).done;
    const login = await cli(['login'], env).done;
    for (const res of [who, login]) {
      expect(res.code).toBe(4);
      expect(res.stderr).toBe(`tessera: Could not reach ${dead}: ECONNREFUSED\nIs the server running at ${dead}?\n`);
    }
  });

  it('when the host never completes a connection (packets dropped), then whoami and login give up on the connect and ask whether the server is running, with exit 4', async () => {
    const hanging = await hangingConnectUrl();
    try {
      const env = { TESSERA_CONFIG_DIR: await tmp(), TESSERA_HOST: hanging.url };
      // Both at once: each only waits on its connect.
      const results = await Promise.all([cli(['whoami'], { ...env, TESSERA_TOKEN: 'tsa_x' }).done, cli(['login', '--no-browser'], env).done]);
      for (const res of results) {
        expect(res.code).toBe(4);
        expect(res.stderr).toBe(`tessera: Could not reach ${hanging.url}: ETIMEDOUT (no answer within 2.5 s)\nIs the server running at ${hanging.url}?\n`);
      }
    } finally {
      hanging.close();
    }
  });

  it('when a connected server takes longer than the connect timeout to answer, then the CLI waits for the answer', async () => {
    // Only the connect is bounded: a slow answer (a long run) must still arrive.
    const me = { sub: 'u-1', email: 'slow@example.test', display_name: 'Slow', scopes: ['full'], expires_at: null, subject_issuer: 'tessera:account', default_workspace_id: null };
    const slow = createServer((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(me)), 3_500);
    });
    const { url, close } = await listenLocal(slow);
    try {
      const res = await cli(['whoami', '--json'], { TESSERA_CONFIG_DIR: await tmp(), TESSERA_HOST: url, TESSERA_TOKEN: 'tsa_x' }).done;
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toMatchObject({ host: url, email: 'slow@example.test' });
    } finally {
      await close();
    }
  });

  it('when --host has no scheme, then the message suggests http for a local host and https otherwise, in the command as typed', async () => {
    const env = { TESSERA_CONFIG_DIR: await tmp() };
    const local = await cli(['whoami', '--host', 'localhost:8080'], env).done;
    expect(local.code).toBe(1);
    expect(local.stderr).toBe('tessera: localhost:8080 has no scheme. Did you mean http://localhost:8080?\nRun `tessera whoami --host http://localhost:8080`.\n');
    const remote = await cli(['apps', 'list', '--host=tessera.example.com', '--json'], env).done;
    expect(remote.stderr).toBe('tessera: tessera.example.com has no scheme. Did you mean https://tessera.example.com?\nRun `tessera apps list --host=https://tessera.example.com --json`.\n');
    const fromEnv = await cli(['whoami'], { ...env, TESSERA_HOST: '127.0.0.1:8080' }).done;
    expect(fromEnv.stderr).toContain('Set TESSERA_HOST=http://127.0.0.1:8080, or pass --host http://127.0.0.1:8080.');
  });

  it('when a hint names a command, then it is the command as the user runs it: with their --host, and through npx when started by npx', async () => {
    const env = { TESSERA_CONFIG_DIR: await tmp() };
    const withHost = await cli(['whoami', '--host', server.url], env).done;
    expect(withHost.code).toBe(2);
    expect(withHost.stderr).toBe(`tessera: Not logged in to ${server.url}.\nRun \`tessera login --host ${server.url}\`.\n`);
    const viaNpx = await cli(['whoami'], { ...env, TESSERA_HOST: server.url, npm_command: 'exec' }).done;
    expect(viaNpx.stderr).toContain('Run `npx tessera login`.');
  });

  it('when the host is not a Tessera server, then the message says so instead of an empty error', async () => {
    const other = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>'));
    const { url, close } = await listenLocal(other);
    try {
      const res = await cli(['whoami'], { TESSERA_CONFIG_DIR: await tmp(), TESSERA_HOST: url, TESSERA_TOKEN: 'tsa_x' }).done;
      expect(res.code).toBe(3);
      expect(res.stderr).toBe(`tessera: ${url} answered 404 without a Tessera error.\nIs ${url} a Tessera server? Check --host or TESSERA_HOST.\n`);
    } finally {
      await close();
    }
  });
});

describe('run conveniences', () => {
  it('when inputs come from --input-file, the old --inputs-file, or name=@file, then the app gets them (one trailing newline dropped)', async () => {
    const env = await withToken();
    const dir = await tmp();
    await writeFile(path.join(dir, 'inputs.json'), JSON.stringify({ name: 'Grace' }));
    await writeFile(path.join(dir, 'name.txt'), 'Ada\n');
    const fromJson = await cli(['run', workflowId, '--input-file', path.join(dir, 'inputs.json')], env).done;
    expect(fromJson).toMatchObject({ code: 0, stdout: expect.stringContaining('greeting: Hello, Grace!') });
    const oldSpelling = await cli(['run', workflowId, '--inputs-file', path.join(dir, 'inputs.json')], env).done;
    expect(oldSpelling.stdout).toContain('greeting: Hello, Grace!');
    const fromFile = await cli(['run', workflowId, '--input', `name=@${path.join(dir, 'name.txt')}`], env).done;
    expect(fromFile.stdout).toContain('greeting: Hello, Ada!\n');
    const missing = await cli(['run', workflowId, '--input', `name=@${path.join(dir, 'nope.txt')}`], env).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`tessera: Could not read the file for --input name=@${path.join(dir, 'nope.txt')}: ENOENT\n`);
  });

  it('when --query is -, then the query is read from stdin', async () => {
    const res = await cli(['run', chatId, '--query', '-', '--json'], await withToken(), { input: 'a question from a pipe\n' }).done;
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ mode: 'chat', answer: 'a question from a pipe' });
  });
});
