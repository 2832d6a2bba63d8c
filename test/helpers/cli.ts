import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { spawn as spawnPty } from '@lydell/node-pty';
import { listenLocal } from './listen.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  /** Resolves with the first match of `re` in stderr (where the CLI talks to the user). */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  done: Promise<CliResult>;
}

/** A growing text that tests can wait on: resolves with the first match of a pattern, or fails with what was seen. */
function watched(what: string, exited: Promise<unknown>) {
  let text = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  return {
    get text() {
      return text;
    },
    push(chunk: string, normalize: (s: string) => string = (s) => s) {
      text += chunk;
      for (const w of [...waiters]) {
        const m = normalize(text).match(w.re);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    },
    wait(re: RegExp, timeoutMs: number, normalize: (s: string) => string = (s) => s): Promise<RegExpMatchArray> {
      const m = normalize(text).match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${re} in ${what} within ${timeoutMs} ms:\n${text}`)), timeoutMs);
        waiters.push({ re, resolve: (x) => (clearTimeout(t), resolve(x)) });
        void exited.then(() => setTimeout(() => reject(new Error(`CLI exited without ${re} in ${what}:\n${text}`)), 50));
      });
    },
  };
}

/** Runs the real `tessera` CLI as a child process through its bin, bin/tessera.js; `input` is piped to its stdin. */
export function cli(args: string[], env: Record<string, string | undefined>, opts: { input?: string } = {}): CliRun {
  const child = spawn(process.execPath, ['bin/tessera.js', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: '1', ...env },
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  let stdout = '';
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr: stderr.text })));
  const stderr = watched('stderr', done);
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString('utf8')));
  return { child, done, waitForStderr: (re, timeoutMs = 15_000) => stderr.wait(re, timeoutMs) };
}

export interface PtyResult {
  code: number;
  /** Everything the terminal showed (stdout and stderr together), escape codes included. */
  output: string;
}

export interface PtyRun {
  /** Types into the terminal ("\r" is Enter, "\x03" is Ctrl-C). */
  type(text: string): void;
  /** Waits for a match in the terminal's text with escape codes removed. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  done: Promise<PtyResult>;
}

/** Runs `tessera` in a pseudo-terminal, as a person would: stdin, stdout and stderr are all a TTY. No CI variable. */
export function cliPty(args: string[], env: Record<string, string | undefined>, opts: { cols?: number } = {}): PtyRun {
  const term = spawnPty(process.execPath, ['bin/tessera.js', ...args], {
    cwd: ROOT,
    cols: opts.cols ?? 120,
    rows: 40,
    env: Object.fromEntries(Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color', ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>,
  });
  let resolveDone!: (r: PtyResult) => void;
  const done = new Promise<PtyResult>((r) => (resolveDone = r));
  const screen = watched('the terminal', done);
  term.onData((d) => screen.push(d, stripVTControlCharacters));
  // Let the last output drain before reporting the exit (node-pty can report exit first).
  term.onExit(({ exitCode }) => setTimeout(() => resolveDone({ code: exitCode, output: screen.text }), 100));
  return {
    type: (text) => term.write(text),
    waitFor: (re, timeoutMs = 15_000) => screen.wait(re, timeoutMs, stripVTControlCharacters),
    done,
  };
}

export interface FakeDesktop {
  /** Env for a graphical session whose browser and clipboard tools are fakes that write to files. */
  env: Record<string, string>;
  opened(): Promise<string[]>;
  clipboard(): Promise<string | null>;
}

/**
 * A fake desktop: DISPLAY set, `xsel` (the clipboard tool clipboardy looks for first)
 * on PATH, and http(s) links handled by a fake browser, both through the XDG
 * default-application settings xdg-open reads and through $BROWSER, its fallback.
 * The XDG search paths hold only these files, so the machine's own browser is never
 * launched. `browserFails`: no handler is registered and $BROWSER exits 1, so the
 * opener itself fails (xdg-open reports a launched handler as success, whatever the
 * handler does later).
 */
export async function fakeDesktop(opts: { browserFails?: boolean } = {}): Promise<FakeDesktop> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-desktop-'));
  const bin = path.join(dir, 'bin');
  const apps = path.join(dir, 'data', 'applications');
  await mkdir(bin, { recursive: true });
  await mkdir(apps, { recursive: true });
  await mkdir(path.join(dir, 'config'), { recursive: true });
  const opened = path.join(dir, 'opened.txt');
  const clip = path.join(dir, 'clipboard.txt');
  const script = async (name: string, body: string) => {
    await writeFile(path.join(bin, name), `#!/bin/sh\n${body}\n`);
    await chmod(path.join(bin, name), 0o755);
  };
  await script('browser', opts.browserFails ? 'exit 1' : `printf '%s\\n' "$1" >> '${opened}'`);
  await script('xsel', `cat > '${clip}'`);
  if (!opts.browserFails) {
    await writeFile(
      path.join(apps, 'fake-browser.desktop'),
      `[Desktop Entry]\nType=Application\nName=Fake browser\nExec=${path.join(bin, 'browser')} %u\nMimeType=x-scheme-handler/http;x-scheme-handler/https;\n`,
    );
    await writeFile(
      path.join(dir, 'config', 'mimeapps.list'),
      '[Default Applications]\nx-scheme-handler/http=fake-browser.desktop\nx-scheme-handler/https=fake-browser.desktop\n',
    );
  }
  const read = (file: string) => readFile(file, 'utf8').catch(() => null);
  return {
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      DISPLAY: ':99',
      XDG_CONFIG_HOME: path.join(dir, 'config'),
      XDG_CONFIG_DIRS: path.join(dir, 'config'),
      XDG_DATA_HOME: path.join(dir, 'data'),
      XDG_DATA_DIRS: path.join(dir, 'data'),
      BROWSER: path.join(bin, 'browser'),
    },
    opened: async () => (await read(opened))?.split('\n').filter(Boolean) ?? [],
    clipboard: () => read(clip),
  };
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: string;
}

/**
 * A pass-through HTTP proxy in front of a real server that records every request
 * (streams pass through as they arrive), to see which route the CLI chose and what it sent.
 */
export async function recordingProxy(
  target: string,
  /** Runs before a request is passed on; the request waits for it (a test holds a request back this way). */
  before: (r: RecordedRequest) => Promise<void> = async () => undefined,
): Promise<{ url: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const recorded = { method: req.method ?? 'GET', path: req.url ?? '/', body: body.toString('utf8') };
    requests.push(recorded);
    await before(recorded);
    try {
      const upstream = await fetch(`${target}${req.url}`, {
        method: req.method,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'connection' && k !== 'content-length')) as Record<string, string>,
        body: body.length ? body : undefined,
      });
      res.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([k]) => k !== 'content-length' && k !== 'content-encoding' && k !== 'transfer-encoding')));
      if (upstream.body) for await (const c of upstream.body) res.write(c);
      res.end();
    } catch {
      res.destroy();
    }
  });
  return { ...(await listenLocal(server)), requests };
}

/** A loopback URL where nothing listens (a port just released), for network failures. */
export async function closedPortUrl(): Promise<string> {
  const closed = createServer().listen(0, '127.0.0.1');
  await new Promise<void>((r) => closed.once('listening', r));
  const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((r) => closed.close(() => r()));
  return url;
}

/**
 * A loopback URL whose TCP connect never completes, as with a host that drops packets.
 * A child process listens with a backlog of 1 and then blocks its event loop, so it
 * never accepts; two connections fill its accept queue (Linux holds backlog + 1), and
 * from then on the kernel drops every SYN to that port: connect() hangs until the
 * client gives up. A child, because a Node server in this process would accept.
 */
export async function hangingConnectUrl(): Promise<{ url: string; close(): void }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
        process.stdout.write(s.address().port + '\\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = Number(await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString('utf8').trim()));
    child.once('exit', (code) => reject(new Error(`the listener exited (${code})`)));
  }));
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = connect({ host: '127.0.0.1', port });
    fillers.push(s);
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

/** Any C0 control but tab and newline, DEL, or any C1 control: what must never reach the terminal from a server. */
export const TERMINAL_CONTROL = /(?![\t\n])\p{Cc}/u;

export interface HostileAnswers {
  /** The body of `POST /oauth/device/code`. */
  deviceStart?: Record<string, unknown>;
  /** Status and body of `POST /oauth/token`. */
  token?: { status: number; body: Record<string, unknown> };
  /** Status and body of a `GET /openapi/v1/<key>` (the key is the path without that prefix and without the query). */
  get?: Record<string, { status: number; body: unknown }>;
}

/** A stand-in for a Tessera host that answers whatever the test sets in `answers`, to see what the CLI does with hostile values. */
export async function hostileHost(): Promise<{ url: string; answers: HostileAnswers; close(): Promise<void> }> {
  const answers: HostileAnswers = {};
  const server = createServer(async (req, res) => {
    for await (const chunk of req) void chunk;
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const route = (req.url ?? '/').replace(/^\/openapi\/v1/, '').replace(/\?.*$/, '');
    if (route === '/oauth/device/code' && answers.deviceStart) return json(200, answers.deviceStart);
    if (route === '/oauth/token' && answers.token) return json(answers.token.status, answers.token.body);
    const get = answers.get?.[route];
    if (req.method === 'GET' && get) return json(get.status, get.body);
    json(404, { error: 'not_found', message: 'Nothing here.' });
  });
  return { ...(await listenLocal(server)), answers };
}
