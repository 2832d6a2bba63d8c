import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEMO_APPS } from '../../src/admin/seed.ts';
import { cli, closedPortUrl } from '../helpers/cli.ts';
import { startOpenAiStub, type OpenAiStub } from '../helpers/openai-stub.ts';
import { stubModel, workflowConfig } from '../helpers/runs.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { refreshGrant } from '../helpers/device.ts';
import { createAccount, createTestApp, createWorkspace, mintToken, type TestAccount } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { listenLocal, type Listening } from '../helpers/listen.ts';

let server: TestServer;
let stub: OpenAiStub;
let account: TestAccount;
let appId: string;
let workspaceId: string;
beforeAll(async () => {
  stub = await startOpenAiStub();
  server = await startServer({ config: { devicePollIntervalSeconds: 1, openai: { baseUrl: stub.url, apiKey: null } } });
  account = await createAccount(server.db);
  workspaceId = await createWorkspace(server.db, account.id);
  appId = await createTestApp(server.db, workspaceId, { name: 'CLI echo chat' });
});
afterAll(async () => {
  await server.close();
  await stub.close();
});

const configDir = () => mkdtemp(path.join(tmpdir(), 'tessera-cli-'));

/** Runs `tessera login`, reads the code it prints, and approves (or denies) it the way the /device page does. */
async function loginThroughBrowser(env: Record<string, string>, decision: 'approve' | 'deny' = 'approve', host = server.url, args: string[] = []) {
  const run = cli(['login', '--no-browser', '--device-label', 'ci-box', ...args], { TESSERA_HOST: host, ...env });
  const [, userCode] = await run.waitForStderr(/enter the code:\s+([A-Z]{4}-[A-Z]{4})/);
  const [, complete] = await run.waitForStderr(/(http\S+\/device\?user_code=\S+)/);
  // The link is on the host the CLI uses: a server whose own links name another origin (behind this test's proxy) gets them replaced.
  expect(complete).toBe(`${host}/device?user_code=${userCode}`);
  const session = await consoleSignin(server, account);
  expect((await decide(server, decision, userCode!, session)).status).toBe(200);
  return run.done;
}

describe('tessera CLI against a real server', () => {
  it('when a user logs in, then the token is stored 0600 in a 0700 folder, and whoami, apps and logout work; after logout whoami exits 2', async () => {
    const dir = path.join(await configDir(), 'nested');
    const env = { TESSERA_CONFIG_DIR: dir };
    const login = await loginThroughBrowser(env);
    expect(login.stderr).not.toMatch(/at \S+ \(/);
    expect(login.code).toBe(0);
    expect(login.stdout).toContain(`Logged in to ${server.url} as ${account.email}`);
    expect(login.stdout).toMatch(new RegExp(`Default workspace: ws-\\w+ \\(${workspaceId}\\)`));

    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const file = path.join(dir, 'hosts.yml');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const hosts = parse(await readFile(file, 'utf8'));
    expect(hosts.current_host).toBe(server.url);
    expect(hosts.hosts[server.url]).toMatchObject({
      token: expect.stringMatching(/^tsa_/),
      email: account.email,
      expires_at: expect.any(String),
      // Both tokens of the device login, and both expiries (docs/cli.md, "Staying logged in").
      refresh_token: expect.stringMatching(/^tsr_/),
      refresh_expires_at: expect.any(String),
    });

    const who = await cli(['whoami'], env).done;
    expect(who.code).toBe(0);
    expect(who.stdout).toContain(account.email);
    expect(who.stdout).toMatch(new RegExp(`Default workspace: ws-\\w+ \\(${workspaceId}\\)`));
    expect(who.stdout).not.toContain('Signed in through');
    const whoJson = JSON.parse((await cli(['whoami', '--json'], env).done).stdout);
    expect(whoJson).toMatchObject({ host: server.url, email: account.email, scopes: ['full'] });

    const list = await cli(['apps', 'list'], env).done;
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${appId}\\s+chat\\s+CLI echo chat`));
    const listJson = JSON.parse((await cli(['apps', 'list', '--mode', 'chat', '--json'], env).done).stdout);
    expect(listJson.map((a: { id: string }) => a.id)).toContain(appId);
    const info = JSON.parse((await cli(['apps', 'info', appId, '--json'], env).done).stdout);
    expect(info).toMatchObject({ id: appId, mode: 'chat', name: 'CLI echo chat' });

    const token = hosts.hosts[server.url].token as string;
    const logout = await cli(['logout'], env).done;
    expect(logout.code).toBe(0);
    expect(logout.stdout).toContain(`Logged out of ${server.url}`);
    const me = await fetch(`${server.url}/openapi/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    expect(me.status).toBe(401);
    expect((await refreshGrant(server, hosts.hosts[server.url].refresh_token)).status).toBe(400);
    expect(parse(await readFile(file, 'utf8')).hosts).toEqual({});
    const after = await cli(['whoami'], env).done;
    expect(after.code).toBe(2);
    expect(after.stderr).toBe(`tessera: Not logged in to ${server.url}.\nRun \`tessera login\`.\n`);
  }, 60_000);

  it('when the user denies in the browser, then login exits 2 with a clear message and stores nothing', async () => {
    const dir = await configDir();
    const res = await loginThroughBrowser({ TESSERA_CONFIG_DIR: dir }, 'deny');
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('tessera: The login was denied in the browser.');
    await expect(stat(path.join(dir, 'hosts.yml'))).rejects.toThrow(/ENOENT/);
  }, 30_000);

  it('when a poll gets a 503 and then slow_down, then the CLI retries, waits 5 seconds longer, and still logs in', async () => {
    const polls: number[] = [];
    // A pass-through proxy: the first token poll gets a 503, the second slow_down (RFC 8628 §3.5).
    const proxy: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.url === '/openapi/v1/oauth/token') {
        polls.push(Date.now());
        if (polls.length === 1) {
          res.writeHead(503, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'Down for a moment.' }));
        }
        if (polls.length === 2) {
          res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          return res.end(JSON.stringify({ error: 'slow_down', error_description: 'Polling too fast.' }));
        }
      }
      const upstream = await fetch(`${server.url}${req.url}`, {
        method: req.method,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'connection')) as Record<string, string>,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
    const { url: host, close } = await listenLocal(proxy);
    try {
      // The proxy is not the server's public URL, which a DPoP proof would have to name (docs/cli.md, "DPoP"): a bearer login.
      const res = await loginThroughBrowser({ TESSERA_CONFIG_DIR: await configDir() }, 'approve', host, ['--no-dpop']);
      expect(res.code, res.stderr).toBe(0);
      expect(polls.length).toBe(3);
      expect(polls[1]! - polls[0]!).toBeGreaterThanOrEqual(900);
      // Interval 1 s + 5 s for slow_down.
      expect(polls[2]! - polls[1]!).toBeGreaterThanOrEqual(5_900);
    } finally {
      await close();
    }
  }, 40_000);

  it('when the user presses Ctrl-C while login waits, then it stops at once with exit 130 and stores nothing', async () => {
    const dir = await configDir();
    const run = cli(['login', '--no-browser'], { TESSERA_HOST: server.url, TESSERA_CONFIG_DIR: dir });
    await run.waitForStderr(/enter the code:\s+[A-Z]{4}-[A-Z]{4}/);
    run.child.kill('SIGINT');
    const res = await run.done;
    expect(res.code).toBe(130);
    expect(res.stderr).toMatch(/tessera: Login cancelled\.\n$/);
    await expect(stat(path.join(dir, 'hosts.yml'))).rejects.toThrow(/ENOENT/);
  });

  it('when TESSERA_TOKEN is set, then it is used without any stored login', async () => {
    const token = await mintToken(server, account);
    const res = await cli(['whoami', '--json'], { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: server.url, TESSERA_TOKEN: token }).done;
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).email).toBe(account.email);
  });

  it('when things go wrong, then one readable line and exit codes 1 (usage), 2 (bad token), 3 (API error), 4 (network)', async () => {
    const base = { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: server.url };
    const token = await mintToken(server, account);
    const usage = await cli(['apps', 'list', '--mode', 'bogus'], { ...base, TESSERA_TOKEN: token }).done;
    expect(usage.code).toBe(1);
    const badToken = await cli(['whoami'], { ...base, TESSERA_TOKEN: 'tsa_nope' }).done;
    expect(badToken.code).toBe(2);
    expect(badToken.stderr).toMatch(/^tessera: The token in TESSERA_TOKEN is not valid for .* \(invalid_token\)\.\n/);
    const apiErr = await cli(['apps', 'info', '00000000-0000-4000-8000-000000000000'], { ...base, TESSERA_TOKEN: token }).done;
    expect(apiErr.code).toBe(3);
    expect(apiErr.stderr).toMatch(/^tessera: Error 404 not_found: .+\n$/);
    const deadHost = await closedPortUrl();
    const net = await cli(['whoami'], { ...base, TESSERA_HOST: deadHost, TESSERA_TOKEN: token }).done;
    expect(net.code).toBe(4);
    expect(net.stderr).toBe(`tessera: Could not reach ${deadHost}: ECONNREFUSED\nIs the server running at ${deadHost}?\n`);
  }, 30_000);

  it('when the server is unreachable at logout, then the local login is still removed, with a warning', async () => {
    const dir = await configDir();
    const deadHost = await closedPortUrl();
    await writeFile(path.join(dir, 'hosts.yml'), stringify({ current_host: deadHost, hosts: { [deadHost]: { token: 'tsa_x', expires_at: null, email: 'a@b.c' } } }), { mode: 0o600 });
    const res = await cli(['logout'], { TESSERA_CONFIG_DIR: dir }).done;
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`Warning: Could not reach ${deadHost}: ECONNREFUSED.`);
    expect(parse(await readFile(path.join(dir, 'hosts.yml'), 'utf8'))).toEqual({ current_host: deadHost, hosts: {} });
  });

  it("when a user runs apps, then chat streams its answer, conversations continue, workflows print outputs, and input the server refuses exits 3 with the app's inputs listed", async () => {
    const env = { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: server.url, TESSERA_TOKEN: await mintToken(server, account) };
    const streamed = await cli(['run', appId, '--query', 'hello streaming world', '--stream'], env).done;
    expect(streamed.code).toBe(0);
    expect(streamed.stdout).toBe('hello streaming world\n');
    const [, conversation] = streamed.stderr.match(/To continue this conversation: tessera run \S+ --conversation (\S+) --query …/)!;

    const blocking = await cli(['run', appId, '--query', 'and again', '--conversation', conversation!, '--json'], env).done;
    expect(blocking.code).toBe(0);
    expect(JSON.parse(blocking.stdout)).toMatchObject({ event: 'message', mode: 'chat', answer: 'and again', conversation_id: conversation });

    const ws = await createWorkspace(server.db, account.id);
    const workflow = DEMO_APPS.find((a) => a.mode === 'workflow')!;
    const wfId = await createTestApp(server.db, ws, { name: 'CLI workflow', mode: 'workflow', config: workflow.config });
    const wf = await cli(['run', wfId, '--input', 'name=Ada'], env).done;
    expect(wf.code).toBe(0);
    expect(wf.stdout).toContain('greeting: Hello, Ada!');
    // --stream --json: one document, the blocking result's shape plus the events (pings left out) and `error`.
    const wfBlocking = JSON.parse((await cli(['run', wfId, '--input', 'name=Ada', '--json'], env).done).stdout);
    const wfStream = await cli(['run', wfId, '--input', 'name=Ada', '--stream', '--json'], env).done;
    expect(wfStream.code).toBe(0);
    const wfDoc = JSON.parse(wfStream.stdout);
    expect(Object.keys(wfDoc).sort()).toEqual([...Object.keys(wfBlocking), 'events', 'error'].sort());
    expect(wfDoc).toMatchObject({ workflow_run_id: wfDoc.data.id, error: null, data: { status: 'succeeded', outputs: { greeting: 'Hello, Ada!' } } });
    expect(wfDoc.events[0]).toMatchObject({ event: 'workflow_started', workflow_run_id: wfDoc.workflow_run_id });
    expect(wfDoc.events.at(-1)).toMatchObject({ event: 'workflow_finished', data: wfDoc.data });
    expect(wfDoc.events.map((e: { event: string }) => e.event)).not.toContain('ping');

    const chatStream = await cli(['run', appId, '--query', 'streamed as one document', '--stream', '--json'], env).done;
    expect(chatStream.code).toBe(0);
    const chatDoc = JSON.parse(chatStream.stdout);
    expect(Object.keys(chatDoc).sort()).toEqual([...Object.keys(JSON.parse(blocking.stdout)), 'events', 'error'].sort());
    expect(chatDoc).toMatchObject({ event: 'message', mode: 'chat', answer: 'streamed as one document', id: chatDoc.message_id, error: null, metadata: { usage: expect.any(Object) } });
    expect(chatDoc.events.at(-1)).toMatchObject({ event: 'message_end', message_id: chatDoc.message_id, conversation_id: chatDoc.conversation_id });
    expect(chatStream.stderr).toBe('');

    // A failing workflow exits 3 with --json too (blocking: the 502; streaming: the error event, in the one document).
    const failingId = await createTestApp(server.db, ws, { name: 'CLI failing workflow', mode: 'workflow', config: workflowConfig(stubModel('stub-500')) });
    const failed = await cli(['run', failingId, '--input', 'name=Ada', '--json'], env).done;
    expect(failed.code).toBe(3);
    expect(failed.stderr).toMatch(/^tessera: Error 502 provider_error: .+\n$/);
    const failedStream = await cli(['run', failingId, '--input', 'name=Ada', '--json', '--stream'], env).done;
    expect(failedStream.code).toBe(3);
    const failedDoc = JSON.parse(failedStream.stdout);
    expect(failedDoc.events.map((e: { event: string }) => e.event)).toContain('workflow_started');
    expect(failedDoc).toMatchObject({ data: null, error: { status: 502, code: 'provider_error', message: expect.any(String) } });
    expect(failedStream.stderr).toBe(`tessera: Error 502 provider_error: ${failedDoc.error.message}\n`);

    const noQuery = await cli(['run', appId], env).done;
    expect(noQuery.code).toBe(1);
    expect(noQuery.stderr).toBe(`tessera: A chat app needs --query TEXT.\nFor example: tessera run ${appId} --query Hello\n`);
    const badInput = await cli(['run', wfId, '--input', `name=${'x'.repeat(101)}`], env).done;
    expect(badInput.code).toBe(3);
    expect(badInput.stderr).toMatch(/^tessera: Error 400 invalid_request: Invalid inputs: name must be at most 100 characters\.\n/);
    expect(badInput.stderr).toContain('  --input name=…  Name (text, required, max 100)');
  }, 60_000);
});

describe('run --stream --json when the stream does not finish', () => {
  const TASK = '11111111-1111-4111-8111-111111111111';
  const MESSAGE = '22222222-2222-4222-8222-222222222222';
  const CONVERSATION = '33333333-3333-4333-8333-333333333333';
  let fake: Listening;
  let fakeUrl: string;
  beforeAll(async () => {
    // A stand-in server: a chat app whose stream sends one delta and then ends cleanly (`ends`) or is cut mid-body (`breaks`).
    const stand = createServer((req, res) => {
      const [, app, route] = req.url!.match(/^\/openapi\/v1\/apps\/(\w+)\/([\w-]+)/) ?? [];
      if (route === 'info') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ id: app, name: 'Fake chat', mode: 'chat', description: '', tags: [], input_schema: [] }));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const delta = { event: 'message', task_id: TASK, message_id: MESSAGE, conversation_id: CONVERSATION, answer: 'partial ', created_at: 1_700_000_000 };
      res.write(`data: ${JSON.stringify({ event: 'ping', task_id: TASK })}\n\ndata: ${JSON.stringify(delta)}\n\n`, () => {
        // `breaks`: the connection closes without the chunked body's end, as when a proxy or the server dies.
        if (app === 'breaks') res.socket!.end();
        else res.end();
      });
    });
    fake = await listenLocal(stand);
    fakeUrl = fake.url;
  });
  afterAll(() => fake.close());

  it('when the stream ends before its final event, then one document with the answer so far and the error is printed, and the exit code is 4', async () => {
    const res = await cli(['run', 'ends', '--query', 'hi', '--stream', '--json'], { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: fakeUrl, TESSERA_TOKEN: 'tsa_x' }).done;
    expect(res.code).toBe(4);
    expect(res.stderr).toBe(`tessera: The stream from ${fakeUrl} ended before the run finished.\n`);
    expect(JSON.parse(res.stdout)).toEqual({
      event: 'message',
      task_id: TASK,
      id: MESSAGE,
      message_id: MESSAGE,
      conversation_id: CONVERSATION,
      mode: 'chat',
      answer: 'partial ',
      metadata: null,
      created_at: 1_700_000_000,
      events: [{ event: 'message', task_id: TASK, message_id: MESSAGE, conversation_id: CONVERSATION, answer: 'partial ', created_at: 1_700_000_000 }],
      error: { code: 'stream_incomplete', message: `The stream from ${fakeUrl} ended before the run finished.` },
    });
    // Without --json the answer so far is printed, and its line ended, so the error does not run into it.
    const human = await cli(['run', 'ends', '--query', 'hi', '--stream'], { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: fakeUrl, TESSERA_TOKEN: 'tsa_x' }).done;
    expect(human).toMatchObject({ code: 4, stdout: 'partial \n' });
  });

  it('when the connection breaks off mid-stream, then one document with the error is printed, and the exit code is 4', async () => {
    const res = await cli(['run', 'breaks', '--query', 'hi', '--stream', '--json'], { TESSERA_CONFIG_DIR: await configDir(), TESSERA_HOST: fakeUrl, TESSERA_TOKEN: 'tsa_x' }).done;
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(new RegExp(`^tessera: The stream from ${fakeUrl} broke off: terminated \\(other side closed\\)\\n$`));
    const doc = JSON.parse(res.stdout);
    expect(doc).toMatchObject({ mode: 'chat', metadata: null, error: { code: 'stream_broken', message: expect.stringContaining('broke off') } });
    expect(doc.events).toEqual(doc.answer ? [expect.objectContaining({ event: 'message' })] : []);
  });
});
