import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { member } from '../helpers/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import type { Session } from '../consumers/session.ts';

// Consumers generate SDKs from openapi.yaml. Each generator's client is generated once into a
// temp dir with the commands docs/sdk.md gives, compiled with tsc --strict together with a
// consumer's session (test/consumers/*.ts), and that session runs against a live server, whose
// every response is checked against the spec as in every test.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd.split('/').pop()} ${args.join(' ')} failed:\n${stdout}\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

let dir: string;
let server: TestServer;
let fixture: Awaited<ReturnType<typeof member>>;
const ready: Record<string, Promise<void>> = {};

/** Generates one client, then compiles it with its consumer session under tsc --strict. */
async function prepare(name: 'hey-api' | 'orval', generate: () => Promise<unknown>): Promise<void> {
  await generate();
  await copyFile(join(ROOT, 'test/consumers', `${name}.ts`), join(dir, `${name}.ts`));
  await writeFile(
    join(dir, `tsconfig.${name}.json`),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
        allowImportingTsExtensions: true,
        skipLibCheck: true,
      },
      files: [`${name}.ts`],
    }),
  );
  await run(bin('tsc'), ['-p', join(dir, `tsconfig.${name}.json`)]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-clients-'));
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await copyFile(join(ROOT, 'test/consumers/session.ts'), join(dir, 'session.ts'));
  // Both generators (and both compilations) run side by side; each test waits for its own.
  ready['hey-api'] = prepare('hey-api', () => run(bin('openapi-ts'), ['-i', 'openapi.yaml', '-o', join(dir, 'hey'), '-c', '@hey-api/client-fetch']));
  ready.orval = prepare('orval', () => run(bin('orval'), ['--config', 'sdk/orval.config.ts'], { ORVAL_OUTPUT: join(dir, 'orval', 'tessera.ts') }));
  for (const p of Object.values(ready)) p.catch(() => undefined); // awaited (and reported) by its test
  server = await startServer();
  fixture = await member(server);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(Object.values(ready));
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sessionThrough(name: 'hey-api' | 'orval'): Promise<Session> {
  await ready[name];
  const consumer = (await import(pathToFileURL(join(dir, `${name}.ts`)).href)) as {
    session: (baseUrl: string, token: string, appId: string, missingAppId: string) => Promise<Session>;
  };
  return consumer.session(`${server.url}/openapi/v1`, fixture.token, fixture.appId, randomUUID());
}

function expectWorkingSession(s: Session): void {
  expect(s.me).toBe(fixture.account.email);
  expect(s.apps).toBeGreaterThanOrEqual(1);
  expect(s.appName).toMatch(/^app-/);
  expect(s.blocking.answer).toBe('hello typed world');
  expect(s.blocking.conversation).toMatch(/^[0-9a-f-]{36}$/);
  expect(s.streamed.answer).toBe('one two three');
  expect(s.streamed.tokens).toBeGreaterThan(0);
  expect(s.streamed.events[0]).toBe('message');
  expect(s.streamed.events.at(-1)).toBe('message_end');
  expect(s.missing).toEqual({ status: 404, error: 'not_found' });
}

/** Names a module would shadow if it exported them: Node's globals and the DOM and ES libraries' declarations. */
async function globalNames(): Promise<Set<string>> {
  const names = new Set(Object.getOwnPropertyNames(globalThis));
  const lib = join(ROOT, 'node_modules/typescript/lib');
  for (const file of (await readdir(lib)).filter((f) => /^lib\.(dom|es\d+|es5|esnext|webworker)\b.*\.d\.ts$/.test(f))) {
    for (const m of (await readFile(join(lib, file), 'utf8')).matchAll(/^(?:declare )?(?:var|interface|type|function|class) (\w+)/gm)) names.add(m[1]!);
  }
  return names;
}

describe('clients generated from openapi.yaml', () => {
  it('when the clients are generated, then none of their exported names shadows a JS, DOM or Node global', async () => {
    await Promise.all(Object.values(ready));
    const globals = await globalNames();
    expect(globals.has('MessageEvent') && globals.has('Error') && globals.has('fetch')).toBe(true);
    const exported: string[] = [];
    for (const file of [join(dir, 'hey', 'types.gen.ts'), join(dir, 'hey', 'sdk.gen.ts'), join(dir, 'orval', 'tessera.ts')]) {
      for (const m of (await readFile(file, 'utf8')).matchAll(/^export (?:type|interface|const|function|enum|class) (\w+)/gm)) exported.push(m[1]!);
    }
    expect(exported.length).toBeGreaterThan(100);
    expect(exported.filter((name) => globals.has(name))).toEqual([]);
  }, 120_000);

  it('when a client is generated with @hey-api/openapi-ts, then it compiles under tsc --strict, and a blocking chat, a typed stream and a typed 404 work', async () => {
    expectWorkingSession(await sessionThrough('hey-api'));
  }, 120_000);

  it('when a client is generated with orval (sdk/orval.config.ts), then it compiles under tsc --strict, and a blocking chat, a typed stream and a typed 404 work', async () => {
    expectWorkingSession(await sessionThrough('orval'));
  }, 120_000);
});
