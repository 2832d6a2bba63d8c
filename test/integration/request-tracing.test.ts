import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestChannel, type RequestTrace } from '../../src/http/request-tracing.ts';
import { RedisStore, StoreUnavailableError, type Store } from '../../src/storage/store/index.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { member } from '../helpers/fixtures.ts';
import { until } from '../helpers/processes.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

// The `tessera.request` tracing channel (docs/http.md, "Observing requests"): every request,
// whichever way the server serves it, with the name of the route that served it.
interface Seen {
  events: string[];
  route?: string;
  status?: number;
  url?: string;
  finished?: boolean;
  error?: unknown;
}
const traces = new Map<RequestTrace, Seen>();
const seen = (t: RequestTrace) => traces.get(t) ?? traces.set(t, { events: [] }).get(t)!;
const subscribers = {
  start: (t: RequestTrace) => void (seen(t).events.push('start'), (seen(t).url = t.request.url)),
  end: (t: RequestTrace) => void seen(t).events.push('end'),
  asyncStart: (t: RequestTrace) => void seen(t).events.push('asyncStart'),
  asyncEnd: (t: RequestTrace) => {
    const s = seen(t);
    s.events.push('asyncEnd');
    Object.assign(s, { route: t.route, status: t.response.statusCode, finished: t.response.writableFinished });
  },
  error: (t: RequestTrace) => void ((seen(t).error = t.error), seen(t).events.push('error')),
};

// A tracer's context, bound to `start` as OpenTelemetry binds its own; the store records what it sees.
const context = new AsyncLocalStorage<string>();
const contexts: (string | undefined)[] = [];
const proxy = TcpProxy.forUrl(TEST_REDIS_URL);
let server: TestServer;
let store: RedisStore;
let m: Awaited<ReturnType<typeof member>>;

beforeAll(async () => {
  await proxy.start();
  store = await RedisStore.connect(proxy.url(TEST_REDIS_URL));
  const watched = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'run' || typeof value !== 'function') return value;
      return (...args: unknown[]) => (contexts.push(context.getStore()), (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  }) as Store;
  server = await startServer({ store: watched });
  m = await member(server);
  requestChannel.subscribe(subscribers);
  requestChannel.start.bindStore(context, (t) => `trace of ${t.request.method} ${t.request.url}`);
});
afterAll(async () => {
  requestChannel.start.unbindStore(context);
  requestChannel.unsubscribe(subscribers);
  await server.close();
  await store.close();
  await proxy.cut();
});

/** Sends one request and returns what the channel saw of it once its response is over. */
async function traced(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Seen> {
  traces.clear();
  await rawRequest(server.url, { method, path, headers, body });
  // The client has the response once it finished; the server's close event follows.
  await until(async () => [...traces.values()].some((t) => t.events.includes('asyncEnd')), `the trace of ${method} ${path} to end`);
  expect(traces.size).toBe(1);
  return [...traces.values()][0]!;
}

describe('the tessera.request tracing channel', () => {
  it('when an API operation is served, either way in, then start, end, asyncStart, asyncEnd carry its operationId and the final status', async () => {
    for (const path of ['/openapi/v1/me', '/OPENAPI/v1/me']) {
      const t = await traced('GET', path, m.auth);
      expect(t, path).toEqual({ events: ['start', 'end', 'asyncStart', 'asyncEnd'], url: path, route: 'getMe', status: 200, finished: true });
    }
    expect((await traced('GET', `/openapi/v1/apps/${m.appId}/info`, m.auth)).route).toBe('getAppInfo');
    expect(await traced('GET', '/openapi/v1/me')).toMatchObject({ route: 'getMe', status: 401 });
  });

  it('when an RFC endpoint, a console route or a page is served, then its fixed name; HEAD counts as GET', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect(await traced('POST', '/openapi/v1/oauth/token', form, 'grant_type=nope')).toMatchObject({ route: 'oauth_token', status: 400 });
    expect(await traced('GET', '/.well-known/oauth-authorization-server')).toMatchObject({ route: 'oauth_metadata', status: 200 });
    expect(await traced('GET', '/console/api/session')).toMatchObject({ route: 'console_session', status: 401 });
    // Signed out, the device page sends the browser to sign in first.
    expect(await traced('GET', '/device')).toMatchObject({ route: 'device_page', status: 303 });
    expect(await traced('HEAD', '/device')).toMatchObject({ route: 'device_page', status: 303 });
    expect(await traced('GET', '/signin')).toMatchObject({ route: 'signin_page', status: 200 });
    expect(await traced('GET', '/openapi/v1/openapi.json')).toMatchObject({ route: 'openapi_json', status: 200 });
  });

  it('when no route serves a request, then it is traced as other', async () => {
    for (const [method, path, status] of [
      ['GET', '/openapi/v1/nope', 404],
      ['DELETE', '/openapi/v1/me', 405],
      ['OPTIONS', '/openapi/v1/me', 204],
      ['GET', '/openapi/v1/apps/%ZZ/info', 400],
      ['GET', '/nowhere', 404],
      ['PUT', '/device', 405],
    ] as const) {
      expect(await traced(method, path, m.auth), `${method} ${path}`).toMatchObject({ route: 'other', status, events: ['start', 'end', 'asyncStart', 'asyncEnd'] });
    }
  });

  it("when a store bound to start holds a tracer's context, then the request's store call runs inside it", async () => {
    contexts.length = 0;
    await traced('GET', '/openapi/v1/me', m.auth);
    expect(contexts).toEqual(['trace of GET /openapi/v1/me']);
  });

  it('when a dependency fails and the answer is a 5xx, then error carries the failure before the response is over', async () => {
    await proxy.cut();
    try {
      const t = await traced('GET', '/openapi/v1/me', m.auth);
      expect(t).toMatchObject({ route: 'getMe', status: 503, events: ['start', 'end', 'error', 'asyncStart', 'asyncEnd'] });
      expect(t.error).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await proxy.restore();
      await until(async () => (await rawRequest(server.url, { method: 'GET', path: '/openapi/v1/me', headers: m.auth })).status === 200, 'the store to be back');
    }
  });

  it('when nobody subscribes, then requests are served and nothing is published', async () => {
    requestChannel.unsubscribe(subscribers);
    requestChannel.start.unbindStore(context);
    try {
      traces.clear();
      const r = await rawRequest(server.url, { method: 'GET', path: '/openapi/v1/me', headers: m.auth });
      expect(r.status).toBe(200);
      expect(requestChannel.hasSubscribers).toBe(false);
      expect(traces.size).toBe(0);
    } finally {
      requestChannel.subscribe(subscribers);
      requestChannel.start.bindStore(context, (t) => `trace of ${t.request.method} ${t.request.url}`);
    }
  });
});
