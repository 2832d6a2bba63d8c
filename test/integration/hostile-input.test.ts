import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantAdmin } from '../../src/admin/grants-admin.ts';
import { validateTrustedIssuers } from '../../src/auth/jwt/trusted-issuers.ts';
import type { Method, Surface } from '../../src/http/route-manifest.ts';
import { loadSpec, specOperations } from '../../src/http/spec.ts';
import { GRANT_COOKIE } from '../../src/sso/approval-grant.ts';
import { consoleSignin, type ConsoleLogin } from '../helpers/console.ts';
import { startFlow } from '../helpers/device.ts';
import { createTestApp, member, mintToken, uniq, type TestAccount } from '../helpers/fixtures.ts';
import { authorizationShapes, bodyVariants, jwtAuthorizationShapes, MALFORMED_SEGMENTS, ODD_SEGMENTS, queryVariants } from '../helpers/hostile.ts';
import { jwksOf, makeKey, mint } from '../helpers/jwks.ts';
import { inPool, rawRequest } from '../helpers/raw-http.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { Agent, idpUser, signInWithSso, ssoLogin, startSsoPair, type SsoPair } from '../helpers/sso.ts';
import { answerProblems } from '../helpers/surface-shapes.ts';

/**
 * Walks every declared route (the spec's operations, the OAuth endpoints, the console
 * API and the pages, all read from the app's route manifest, so a route added later is
 * walked too) with hostile input, and checks that nothing is a 5xx, nothing hangs, and
 * every 4xx has its surface's documented shape. Once in the community edition, and once
 * in the enterprise edition with a real OpenID provider (the external-SSO endpoints) and
 * a trusted JWT issuer (JWT-shaped garbage among the Authorization headers).
 */

const CONCURRENCY = 8;
const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
/** Routes whose success ends the caller's credentials (one, or every device of the account): each request gets an account of its own. */
const DESTRUCTIVE = new Set(['delete /openapi/v1/me/sessions/self', 'post /console/api/signout', 'delete /console/api/devices']);
/**
 * The external-SSO endpoints that read the approval-grant cookie. approve-external and
 * deny-external would spend the grant, but only for the grant's own user code, which the
 * walk never sends (it is checked before the grant is spent); the walk ends by showing the
 * grant still answers.
 */
const GRANT_ROUTES = new Set(['/openapi/v1/oauth/device/approval-context', '/openapi/v1/oauth/device/approve-external', '/openapi/v1/oauth/device/deny-external']);
/** Query parameters of the routes outside openapi.yaml. */
const KNOWN_QUERIES: Record<string, string[]> = {
  '/signin': ['next'],
  '/device': ['user_code'],
  '/openapi/v1/oauth/device/lookup': ['user_code'],
  '/openapi/v1/oauth/device/sso-initiate': ['user_code'],
  '/device/sso-complete': ['code', 'state', 'iss', 'error', 'error_description'],
};

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
  /** The case's number: picks which of the caller's bearers it sends. */
  n: number;
}

/** One server and the caller whose credentials the walk uses. */
interface Walk {
  server: TestServer;
  account: TestAccount;
  /** The account's tsa_ token. */
  token: string;
  appId: string;
  login: ConsoleLogin;
  /** Valid bearers, one per subject kind the edition has; the cases take them in turn. */
  bearers: string[];
  /**
   * Authorization shapes beyond the common ones (JWT-shaped, in the enterprise edition), sent
   * to the bearer routes only: the other surfaces never read a bearer, and the common shapes
   * already show them ignoring or refusing one.
   */
  extraShapes: string[];
  /** The approval grant of a pending SSO sign-in (enterprise edition with SSO). */
  grant?: { cookie: string; csrf: string };
  /** Log lines at warn and above: an error-level line is itself a failure. */
  errorLines: string[];
}

let ipCounter = 0;
/** A benchmarking-range address per request (loopback proxies are trusted), so per-IP limits do not cut the walk short. */
const freshIp = () => `198.18.${Math.floor(++ipCounter / 250) % 250}.${(ipCounter % 250) + 1}`;

function groups(w: Walk): RouteGroup[] {
  const byPath = new Map<string, RouteGroup>();
  for (const r of w.server.app.routes.routes) {
    const g = byPath.get(r.path) ?? { surface: r.surface, path: r.path, methods: [] };
    if (!g.methods.includes(r.method)) g.methods.push(r.method);
    byPath.set(r.path, g);
  }
  return [...byPath.values()];
}

/** Fills path parameters: the caller's app for app_id, an asset that exists for name, else a random id. */
function fill(w: Walk, template: string, override?: { param: string; value: string }): string {
  return template.replace(/:(\w+)/g, (_m, name: string) => {
    if (override && override.param === name) return override.value;
    if (name === 'app_id') return w.appId;
    if (name === 'name') return 'console.css';
    return randomUUID();
  });
}

/** The route's own query parameters: from openapi.yaml for spec operations, known ones elsewhere. */
function queryParams(route: RouteGroup, method: Method): { name: string; type?: string; format?: string }[] {
  if (route.surface !== 'api') return (KNOWN_QUERIES[route.path] ?? []).map((name) => ({ name }));
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

function plausibleBodies(w: Walk, route: RouteGroup): { json: string; form: string } {
  if (route.surface === 'oauth') {
    return {
      json: JSON.stringify({ client_id: 'tessera-cli', grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x', token: 'x', user_code: 'BCDF-GHJK' }),
      form: 'client_id=tessera-cli&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=x&token=x&user_code=BCDF-GHJK',
    };
  }
  if (route.surface === 'console-api') return { json: JSON.stringify({ email: w.account.email, password: 'wrong' }), form: 'email=a&password=b' };
  return { json: JSON.stringify({ name: 'k', scopes: ['apps:read'], query: 'hi', inputs: {}, response_mode: 'blocking' }), form: 'name=k' };
}

const shapeCount = (w: Walk, route: RouteGroup) => authorizationShapes(w.token).length + (route.surface === 'api' ? w.extraShapes.length : 0);

function buildCases(w: Walk): Case[] {
  const cases: Case[] = [];
  const add = (route: RouteGroup, c: Omit<Case, 'route' | 'n'>) => cases.push({ route, ...c, n: cases.length });
  for (const route of groups(w)) {
    const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const { json, form } = plausibleBodies(w, route);
    for (const method of route.methods) {
      const M = method.toUpperCase();
      const withBody = method !== 'get' ? { body: route.surface === 'oauth' ? form : json } : {};
      const bodyType: Record<string, string> = method === 'get' ? {} : { 'content-type': route.surface === 'oauth' ? 'application/x-www-form-urlencoded' : 'application/json' };
      // 1. Malformed percent-encoding in each parameter, or after and inside a static path: always 400.
      for (const seg of MALFORMED_SEGMENTS) {
        const paths = params.length
          ? params.map((param) => fill(w, route.path, { param, value: seg }))
          : [`${route.path}/${seg}`, `${route.path}${seg}`];
        for (const path of paths) add(route, { method: M, path, headers: bodyType, ...withBody, valid: true, expectStatus: 400, label: `segment ${seg}` });
      }
      // 2. Odd but well-encoded segments, with and without credentials.
      ODD_SEGMENTS.forEach((seg, i) => {
        const path = params.length ? fill(w, route.path, { param: params[i % params.length]!, value: seg }) : `${route.path}/${seg}`;
        add(route, { method: M, path, headers: bodyType, ...withBody, valid: i % 2 === 0, label: `odd segment ${seg.slice(0, 20)}` });
      });
      // 3. Authorization headers of many shapes.
      for (let i = 0; i < shapeCount(w, route); i++) {
        add(route, { method: M, path: fill(w, route.path), headers: bodyType, ...withBody, valid: false, authShape: i, label: `authorization #${i}` });
      }
      // 4. Repeated, nested, mistyped and mis-encoded query parameters.
      for (const q of queryVariants(queryParams(route, method))) {
        add(route, { method: M, path: fill(w, route.path) + q, headers: bodyType, ...withBody, valid: true, label: `query ${q.slice(0, 30)}` });
      }
      add(route, { method: M, path: fill(w, route.path) + '?a=1', headers: bodyType, ...withBody, valid: false, label: 'anonymous query' });
      // 5. Bodies wrong in type, size, depth, media type and encoding (with credentials, and a few without).
      if (method !== 'get') {
        bodyVariants(json, form).forEach((v, i) => {
          add(route, { method: M, path: fill(w, route.path), headers: v.headers, body: v.body, valid: true, label: `body ${v.name}` });
          if (i % 4 === 0) add(route, { method: M, path: fill(w, route.path), headers: v.headers, body: v.body, valid: false, label: `anonymous body ${v.name}` });
        });
      }
    }
    // 6. Every method on the path: the undeclared ones are 405 with Allow, OPTIONS is 204 with Allow.
    const declared = new Set(route.methods.map((m) => m.toUpperCase()));
    const head = route.surface !== 'api' && declared.has('GET');
    for (const M of ALL_METHODS) {
      const allowed = declared.has(M) || (M === 'HEAD' && head);
      const expectStatus = M === 'OPTIONS' ? 204 : allowed ? undefined : 405;
      for (const valid of [true, false]) add(route, { method: M, path: fill(w, route.path), headers: {}, valid, expectStatus, label: `method ${M}` });
    }
  }
  return cases;
}

async function credentials(w: Walk, c: Case): Promise<Record<string, string | string[]>> {
  const destructive = DESTRUCTIVE.has(`${c.method.toLowerCase()} ${c.route.path}`);
  const own = destructive ? (await member(w.server)).account : w.account;
  if (c.authShape !== undefined) {
    const common = authorizationShapes(destructive ? await mintToken(w.server, own) : w.token);
    return { authorization: c.authShape < common.length ? common[c.authShape]! : w.extraShapes[c.authShape - common.length]! };
  }
  if (!c.valid) return {};
  if (c.route.surface === 'api') return { authorization: `Bearer ${destructive ? await mintToken(w.server, own) : w.bearers[c.n % w.bearers.length]}` };
  if (w.grant && GRANT_ROUTES.has(c.route.path)) return { cookie: `${w.login.cookie}; ${w.grant.cookie}`, 'x-csrf-token': w.grant.csrf };
  const l = destructive ? await consoleSignin(w.server, own) : w.login;
  return { cookie: l.cookie, 'x-csrf-token': l.csrf };
}

/**
 * Runs the walk and asserts no 5xx, no hang, every 4xx in its shape, no error-level log
 * line. Returns the statuses each declared path answered.
 */
async function walkEveryRoute(w: Walk, edition: string): Promise<Map<string, Record<number, number>>> {
  const walked = groups(w);
  // The walk covers every operation in openapi.yaml (they are mounted from the manifest).
  for (const op of specOperations()) {
    expect(walked.some((g) => g.path === `/openapi/v1${op.expressPath}` && g.methods.includes(op.method)), op.operationId).toBe(true);
  }
  for (const s of ['oauth', 'console-api', 'page'] as const) expect(walked.some((g) => g.surface === s), s).toBe(true);

  const cases = buildCases(w);
  expect(cases.length).toBeGreaterThanOrEqual(2000);
  const histogram: Record<string, number> = {};
  const byRoute = new Map<string, Record<number, number>>();
  const failures: string[] = [];
  const started = Date.now();
  await inPool(cases, CONCURRENCY, async (c) => {
    const headers = { 'x-forwarded-for': freshIp(), ...c.headers, ...(await credentials(w, c)) };
    try {
      const res = await rawRequest(w.server.url, { method: c.method, path: c.path, headers, body: c.body });
      histogram[res.status] = (histogram[res.status] ?? 0) + 1;
      const route = byRoute.get(c.route.path) ?? {};
      route[res.status] = (route[res.status] ?? 0) + 1;
      byRoute.set(c.route.path, route);
      for (const p of answerProblems({ method: c.method, path: c.path, routePath: c.route.path, expectStatus: c.expectStatus }, res)) failures.push(`${c.method} ${c.path.slice(0, 120)} [${c.label}]: ${p}`);
    } catch (err) {
      histogram.error = (histogram.error ?? 0) + 1;
      failures.push(`${c.method} ${c.path.slice(0, 120)} [${c.label}]: ${(err as Error).message}`);
    }
  });
  console.log(`hostile input (${edition}): ${cases.length} requests over ${walked.length} paths in ${Date.now() - started} ms; statuses ${JSON.stringify(histogram)}`);
  expect(failures.slice(0, 40)).toEqual([]);
  expect(w.errorLines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);

  // The caller's credentials survived the walk (destructive routes used their own).
  for (const bearer of w.bearers) {
    expect((await rawRequest(w.server.url, { method: 'GET', path: '/openapi/v1/me', headers: { authorization: `Bearer ${bearer}` } })).status).toBe(200);
  }
  expect((await rawRequest(w.server.url, { method: 'GET', path: '/console/api/session', headers: { cookie: w.login.cookie } })).status).toBe(200);
  return byRoute;
}

/** An account that owns a workspace with an echo app (made with `app`), its tsa_ token and a console sign-in. */
async function caller(server: TestServer, errorLines: string[], app: Parameters<typeof createTestApp>[2] = {}): Promise<Walk> {
  const m = await member(server);
  const appId = await createTestApp(server.db, m.workspaceId, app);
  const login = await consoleSignin(server, m.account);
  return { server, account: m.account, token: m.token, appId, login, bearers: [m.token], extraShapes: [], errorLines };
}

describe('hostile input on every route', () => {
  let walk: Walk;
  beforeAll(async () => {
    const warned = auditLog('warn');
    const server = await startServer({ config: { rateLimitPerToken: 1_000_000 }, log: warned.log });
    walk = await caller(server, warned.lines);
  });
  afterAll(() => walk.server.close());

  it('when every route gets malformed paths, odd methods, hostile headers, queries and bodies, then no 5xx, no hang, and every 4xx in its surface shape', async () => {
    await walkEveryRoute(walk, 'community');
  }, 120_000);

  describe('the route manifest', () => {
    it('when routes are declared on any surface, then the manifest lists them with their full paths', () => {
      const routes = walk.server.app.routes.routes.map((r) => `${r.surface} ${r.method} ${r.path}`);
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
});

describe('hostile input on every route, enterprise edition (external SSO and JWT bearers)', () => {
  const JWT_ISSUER = 'https://idp.walk.test';
  const JWT_AUDIENCE = 'https://tessera.walk.test';
  let pair: SsoPair;
  let walk: Walk;

  beforeAll(async () => {
    const warned = auditLog('warn');
    // One trusted issuer with inline keys: no JWKS server to run, nothing fetched.
    const key = await makeKey('ES256', 'walk-1');
    const trustedJwtIssuers = validateTrustedIssuers(
      [{ issuer: JWT_ISSUER, kind: 'federated', jwks: jwksOf(key), audience: JWT_AUDIENCE, algorithms: ['ES256'], allowed_scopes: ['apps:run', 'apps:read:permitted'] }],
      { allowInsecureHttp: false },
    );
    pair = await startSsoPair({ server: { log: warned.log, config: { rateLimitPerToken: 1_000_000, trustedJwtIssuers } } });
    // External subjects reach the caller's app through grants (access mode external); its workspace's members still do.
    walk = await caller(pair.server, warned.lines, { accessMode: 'external' });
    const s = pair.server;

    // The external subjects: a tse_ login from a real sign-in at the IdP, and a federated JWT.
    const sso = idpUser();
    const { token: tse } = await ssoLogin(pair, sso);
    const nowSec = Math.floor(Date.now() / 1000);
    const jwtEmail = `jwt-${uniq()}@walk.test`;
    const jwt = await mint(key, { iss: JWT_ISSUER, aud: JWT_AUDIENCE, sub: `u-${uniq()}`, email: jwtEmail, email_verified: true, scope: 'apps:run apps:read:permitted', iat: nowSec, exp: nowSec + 1800 });
    const grants = new GrantAdmin(s.db, (id) => s.app.services.grantVerdicts.invalidate(id));
    await grants.grant(walk.appId, { issuer: pair.idp.issuer, email: sso.email });
    await grants.grant(walk.appId, { issuer: JWT_ISSUER, email: jwtEmail });
    walk.bearers = [walk.token, tse, jwt];
    walk.extraShapes = jwtAuthorizationShapes(jwt);

    // A second person mid-way through an SSO sign-in: their approval grant is the walk's
    // credential on the grant endpoints, and must still answer at the end.
    const pending = idpUser();
    pair.idp.accounts.set(pending.login, pending);
    const flow = await startFlow(s);
    const agent = new Agent();
    const ctx = await signInWithSso(agent, s, flow.user_code, pending.login);
    walk.grant = { cookie: `${GRANT_COOKIE}=${agent.cookie(s.url, GRANT_COOKIE)!}`, csrf: ctx.csrf_token };
  });
  afterAll(() => pair.close());

  it('when every route, the SSO endpoints and the JWT path get hostile input, then no 5xx, no hang, every 4xx in its surface shape, and the approval grant survives', async () => {
    const sso = ['/openapi/v1/oauth/device/sso-initiate', ...GRANT_ROUTES, '/device/sso-complete'];
    for (const path of sso) expect(groups(walk).some((g) => g.path === path), path).toBe(true);
    const byRoute = await walkEveryRoute(walk, 'enterprise');
    console.log(`hostile input (enterprise), the SSO endpoints: ${JSON.stringify(Object.fromEntries(sso.map((p) => [p, byRoute.get(p)])))}`);
    // The walk got past the grant and CSRF checks: the context was read, and approvals were
    // refused for their body (400), not only for missing credentials (401/403).
    expect(byRoute.get('/openapi/v1/oauth/device/approval-context')?.[200]).toBeGreaterThan(0);
    expect(byRoute.get('/openapi/v1/oauth/device/approve-external')?.[400]).toBeGreaterThan(0);
    expect(byRoute.get('/openapi/v1/oauth/device/deny-external')?.[400]).toBeGreaterThan(0);
    const ctx = await rawRequest(walk.server.url, { method: 'GET', path: '/openapi/v1/oauth/device/approval-context', headers: { cookie: walk.grant!.cookie } });
    expect(ctx.status).toBe(200);
  }, 120_000);
});
