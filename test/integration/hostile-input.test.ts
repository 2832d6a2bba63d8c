import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Method, Surface } from '../../src/http/route-manifest.ts';
import { loadSpec, specOperations } from '../../src/http/spec.ts';
import { createLogger } from '../../src/logger.ts';
import { consoleSignin, type ConsoleLogin } from '../helpers/console.ts';
import { member, mintToken, type TestAccount } from '../helpers/fixtures.ts';
import { authorizationShapes, bodyVariants, MALFORMED_SEGMENTS, ODD_SEGMENTS, queryVariants } from '../helpers/hostile.ts';
import { inPool, rawRequest } from '../helpers/raw-http.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { answerProblems } from '../helpers/surface-shapes.ts';

/**
 * Walks every declared route (the spec's operations, the OAuth endpoints, the console
 * API and the pages, all read from the app's route manifest, so a route added later is
 * walked too) with hostile input, and checks that nothing is a 5xx, nothing hangs, and
 * every 4xx has its surface's documented shape.
 */

const CONCURRENCY = 8;
const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
/** Routes whose success ends the caller's credentials (one, or every device of the account): each request gets an account of its own. */
const DESTRUCTIVE = new Set(['delete /openapi/v1/me/sessions/self', 'post /console/api/signout', 'delete /console/api/devices']);

interface RouteGroup {
  surface: Surface;
  path: string;
  methods: Method[];
}

interface Case {
  route: RouteGroup;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  /** Use the caller's credentials (a fresh set on destructive routes). */
  valid: boolean;
  /** Send the n-th Authorization shape, built around the caller's token. */
  authShape?: number;
  expectStatus?: number;
  label: string;
}

let server: TestServer;
let account: TestAccount;
let token: string;
let appId: string;
let login: ConsoleLogin;
const errorLines: string[] = [];

beforeAll(async () => {
  // Only lines at warn and above are kept: an error-level line is itself a failure here.
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) errorLines.push(line);
      done();
    },
  });
  server = await startServer({ config: { rateLimitPerToken: 1_000_000 }, log: createLogger('warn', sink) });
  const m = await member(server);
  ({ account, token, appId } = m);
  login = await consoleSignin(server, account);
});
afterAll(() => server.close());

let ipCounter = 0;
/** A benchmarking-range address per request (loopback proxies are trusted), so per-IP limits do not cut the walk short. */
const freshIp = () => `198.18.${Math.floor(++ipCounter / 250) % 250}.${(ipCounter % 250) + 1}`;

function groups(): RouteGroup[] {
  const byPath = new Map<string, RouteGroup>();
  for (const r of server.app.routes.routes) {
    const g = byPath.get(r.path) ?? { surface: r.surface, path: r.path, methods: [] };
    if (!g.methods.includes(r.method)) g.methods.push(r.method);
    byPath.set(r.path, g);
  }
  return [...byPath.values()];
}

/** Fills path parameters: the caller's app for app_id, an asset that exists for name, else a random id. */
function fill(template: string, override?: { param: string; value: string }): string {
  return template.replace(/:(\w+)/g, (_m, name: string) => {
    if (override && override.param === name) return override.value;
    if (name === 'app_id') return appId;
    if (name === 'name') return 'console.css';
    return randomUUID();
  });
}

/** The route's own query parameters: from openapi.yaml for spec operations, known ones elsewhere. */
function queryParams(route: RouteGroup, method: Method): { name: string; type?: string; format?: string }[] {
  if (route.surface !== 'api') {
    const known: Record<string, string[]> = { '/signin': ['next'], '/device': ['user_code'], '/openapi/v1/oauth/device/lookup': ['user_code'] };
    return (known[route.path] ?? []).map((name) => ({ name }));
  }
  const { doc } = loadSpec();
  const op = specOperations().find((o) => o.method === method && `/openapi/v1${o.expressPath}` === route.path);
  if (!op) return [];
  const resolve = (x: { $ref?: string }): Record<string, unknown> =>
    x.$ref ? (x.$ref.slice(2).split('/').reduce((o: Record<string, unknown>, k) => o[k] as Record<string, unknown>, doc as never) as Record<string, unknown>) : x;
  const declared = ((doc.paths[op.path] as Record<string, { parameters?: { $ref?: string }[] }>)[method]?.parameters ?? []).map(resolve);
  return declared
    .filter((p) => p.in === 'query')
    .map((p) => ({ name: p.name as string, type: (p.schema as { type?: string }).type, format: (p.schema as { format?: string }).format }));
}

function plausibleBodies(route: RouteGroup): { json: string; form: string } {
  if (route.surface === 'oauth') {
    return {
      json: JSON.stringify({ client_id: 'tessera-cli', grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x', token: 'x', user_code: 'BCDF-GHJK' }),
      form: 'client_id=tessera-cli&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=x&token=x&user_code=BCDF-GHJK',
    };
  }
  if (route.surface === 'console-api') return { json: JSON.stringify({ email: account.email, password: 'wrong' }), form: 'email=a&password=b' };
  return { json: JSON.stringify({ name: 'k', scopes: ['apps:read'], query: 'hi', inputs: {}, response_mode: 'blocking' }), form: 'name=k' };
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  const add = (route: RouteGroup, c: Omit<Case, 'route'>) => cases.push({ route, ...c });
  for (const route of groups()) {
    const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const { json, form } = plausibleBodies(route);
    for (const method of route.methods) {
      const M = method.toUpperCase();
      const withBody = method !== 'get' ? { body: route.surface === 'oauth' ? form : json } : {};
      const bodyType: Record<string, string> = method === 'get' ? {} : { 'content-type': route.surface === 'oauth' ? 'application/x-www-form-urlencoded' : 'application/json' };
      // 1. Malformed percent-encoding in each parameter, or after and inside a static path: always 400.
      for (const seg of MALFORMED_SEGMENTS) {
        const paths = params.length
          ? params.map((param) => fill(route.path, { param, value: seg }))
          : [`${route.path}/${seg}`, `${route.path}${seg}`];
        for (const path of paths) add(route, { method: M, path, headers: bodyType, ...withBody, valid: true, expectStatus: 400, label: `segment ${seg}` });
      }
      // 2. Odd but well-encoded segments, with and without credentials.
      ODD_SEGMENTS.forEach((seg, i) => {
        const path = params.length ? fill(route.path, { param: params[i % params.length]!, value: seg }) : `${route.path}/${seg}`;
        add(route, { method: M, path, headers: bodyType, ...withBody, valid: i % 2 === 0, label: `odd segment ${seg.slice(0, 20)}` });
      });
      // 3. Authorization headers of many shapes.
      for (let i = 0; i < authorizationShapes(token).length; i++) {
        add(route, { method: M, path: fill(route.path), headers: bodyType, ...withBody, valid: false, authShape: i, label: `authorization #${i}` });
      }
      // 4. Repeated, nested, mistyped and mis-encoded query parameters.
      for (const q of queryVariants(queryParams(route, method))) {
        add(route, { method: M, path: fill(route.path) + q, headers: bodyType, ...withBody, valid: true, label: `query ${q.slice(0, 30)}` });
      }
      add(route, { method: M, path: fill(route.path) + '?a=1', headers: bodyType, ...withBody, valid: false, label: 'anonymous query' });
      // 5. Bodies wrong in type, size, depth, media type and encoding (with credentials, and a few without).
      if (method !== 'get') {
        bodyVariants(json, form).forEach((v, i) => {
          add(route, { method: M, path: fill(route.path), headers: v.headers, body: v.body, valid: true, label: `body ${v.name}` });
          if (i % 4 === 0) add(route, { method: M, path: fill(route.path), headers: v.headers, body: v.body, valid: false, label: `anonymous body ${v.name}` });
        });
      }
    }
    // 6. Every method on the path: the undeclared ones are 405 with Allow, OPTIONS is 204 with Allow.
    const declared = new Set(route.methods.map((m) => m.toUpperCase()));
    const head = route.surface !== 'api' && declared.has('GET');
    for (const M of ALL_METHODS) {
      const allowed = declared.has(M) || (M === 'HEAD' && head);
      const expectStatus = M === 'OPTIONS' ? 204 : allowed ? undefined : 405;
      for (const valid of [true, false]) add(route, { method: M, path: fill(route.path), headers: {}, valid, expectStatus, label: `method ${M}` });
    }
  }
  return cases;
}

async function credentials(c: Case): Promise<Record<string, string | string[]>> {
  const destructive = DESTRUCTIVE.has(`${c.method.toLowerCase()} ${c.route.path}`);
  const own = destructive ? (await member(server)).account : account;
  if (c.authShape !== undefined) return { authorization: authorizationShapes(destructive ? await mintToken(server, own) : token)[c.authShape]! };
  if (!c.valid) return {};
  if (c.route.surface === 'api') return { authorization: `Bearer ${destructive ? await mintToken(server, own) : token}` };
  const l = destructive ? await consoleSignin(server, own) : login;
  return { cookie: l.cookie, 'x-csrf-token': l.csrf };
}

describe('hostile input on every route', () => {
  it('when every route gets malformed paths, odd methods, hostile headers, queries and bodies, then no 5xx, no hang, and every 4xx in its surface shape', async () => {
    const walked = groups();
    // The walk covers every operation in openapi.yaml (they are mounted from the manifest).
    for (const op of specOperations()) {
      expect(walked.some((g) => g.path === `/openapi/v1${op.expressPath}` && g.methods.includes(op.method)), op.operationId).toBe(true);
    }
    for (const s of ['oauth', 'console-api', 'page'] as const) expect(walked.some((g) => g.surface === s), s).toBe(true);

    const cases = buildCases();
    expect(cases.length).toBeGreaterThanOrEqual(2000);
    const histogram: Record<string, number> = {};
    const failures: string[] = [];
    const started = Date.now();
    await inPool(cases, CONCURRENCY, async (c) => {
      const headers = { 'x-forwarded-for': freshIp(), ...c.headers, ...(await credentials(c)) };
      try {
        const res = await rawRequest(server.url, { method: c.method, path: c.path, headers, body: c.body });
        histogram[res.status] = (histogram[res.status] ?? 0) + 1;
        for (const p of answerProblems({ method: c.method, path: c.path, routePath: c.route.path, expectStatus: c.expectStatus }, res)) failures.push(`${c.method} ${c.path.slice(0, 120)} [${c.label}]: ${p}`);
      } catch (err) {
        histogram.error = (histogram.error ?? 0) + 1;
        failures.push(`${c.method} ${c.path.slice(0, 120)} [${c.label}]: ${(err as Error).message}`);
      }
    });
    console.log(`hostile input: ${cases.length} requests over ${walked.length} paths in ${Date.now() - started} ms; statuses ${JSON.stringify(histogram)}`);
    expect(failures.slice(0, 40)).toEqual([]);
    expect(errorLines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);

    // The caller's credentials survived the walk (destructive routes used their own).
    expect((await rawRequest(server.url, { method: 'GET', path: '/openapi/v1/me', headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await rawRequest(server.url, { method: 'GET', path: '/console/api/session', headers: { cookie: login.cookie } })).status).toBe(200);
  }, 120_000);
});

describe('the route manifest', () => {
  it('when routes are declared on any surface, then the manifest lists them with their full paths', () => {
    const routes = server.app.routes.routes.map((r) => `${r.surface} ${r.method} ${r.path}`);
    expect(routes).toEqual(
      expect.arrayContaining([
        'api get /openapi/v1/me',
        'api post /openapi/v1/apps/:app_id/chat-messages',
        'oauth post /openapi/v1/oauth/token',
        'oauth get /.well-known/oauth-authorization-server',
        'console-api post /console/api/signin',
        'page get /signin',
        'page get /device',
      ]),
    );
  });
});
