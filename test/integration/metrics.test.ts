import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordKey } from '../../src/device-flow/device-scripts.ts';
import { hashToken } from '../../src/auth/token-kinds.ts';
import { probeDependencies } from '../../src/observability/metrics.ts';
import { dependencyStates } from '../../src/system/health.ts';
import { RedisStore } from '../../src/storage/store/index.ts';
import { consoleSignin, decide } from '../helpers/console.ts';
import { backdateCollection, form, poll, startFlow } from '../helpers/device.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { createApiKey, createTestApp, member } from '../helpers/fixtures.ts';
import { startOpenAiStub, type OpenAiStub } from '../helpers/openai-stub.ts';
import { until } from '../helpers/processes.ts';
import { promtoolCheckMetrics, sampleOf } from '../helpers/prometheus.ts';
import { chatConfig, get, post, readEvents, stubModel } from '../helpers/runs.ts';
import { auditLog } from '../helpers/server.ts';
import { idpUser, ssoLogin, startSsoPair, type SsoPair } from '../helpers/sso.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { observe, type Observed } from '../helpers/telemetry.ts';

// Metrics (docs/observability.md): what each family counts after real traffic, on a listener
// of its own, clean under Prometheus's promtool. One enterprise server with SSO, so both
// device-flow branches and every opaque token source are exercised.
let pair: SsoPair;
let stub: OpenAiStub;
let observed: Observed;

beforeAll(async () => {
  stub = await startOpenAiStub();
  const { log } = auditLog();
  pair = await startSsoPair({ server: { log, config: { openai: { baseUrl: stub.url, apiKey: null }, rateLimitPerToken: 20, ssePingIntervalMs: 50 } } });
  observed = await observe(pair.server, log, { metrics: true });
});
afterAll(async () => {
  await observed.telemetry.close();
  await pair.close();
  await stub.close();
});

const server = () => pair.server;
const sample = (name: string, labels: Record<string, string> = {}) => sampleOf(observed.registry!, name, labels);
const scrape = async () => {
  const res = await fetch(observed.metricsUrl!);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};

/** How much each listed sample grew while `fn` ran. */
async function grown(samples: [string, Record<string, string>][], fn: () => Promise<void>): Promise<number[]> {
  const before = await Promise.all(samples.map(([n, l]) => sample(n, l)));
  await fn();
  const after = await Promise.all(samples.map(([n, l]) => sample(n, l)));
  return after.map((a, i) => a - before[i]!);
}

describe('the metrics listener', () => {
  it('when /metrics is scraped on METRICS_PORT, then it answers the Prometheus text format that promtool check metrics passes clean', async () => {
    await get(server(), '/me', 'tsa_nope');
    const text = await scrape();
    for (const family of ['http_server_request_duration_seconds', 'tessera_auth_decisions_total', 'tessera_device_flow_events_total', 'tessera_runs_total', 'tessera_runs_in_flight', 'tessera_run_duration_seconds', 'tessera_sse_streams_open', 'tessera_dependency_up', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
      expect(text).toContain(`# TYPE ${family} `);
    }
    expect(await promtoolCheckMetrics(text)).toBe('');
  });

  it('when the public port is asked for /metrics, then it does not serve them; the metrics listener serves nothing but GET /metrics', async () => {
    const publicRes = await fetch(`${server().url}/metrics`);
    expect(publicRes.status).toBe(404);
    expect(await publicRes.text()).not.toContain('tessera_');
    expect((await fetch(observed.metricsUrl!.replace('/metrics', '/'))).status).toBe(404);
    const post = await fetch(observed.metricsUrl!, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('http_server_request_duration_seconds', () => {
  it('when requests are served, whichever way in, then each is counted under its route name, method and status', async () => {
    const m = await member(server());
    const [fast, express, token, page, other] = await grown(
      [
        ['http_server_request_duration_seconds', { method: 'GET', route: 'getMe', status_code: '200' }],
        ['http_server_request_duration_seconds', { method: 'GET', route: 'getMe', status_code: '401' }],
        ['http_server_request_duration_seconds', { method: 'POST', route: 'oauth_token', status_code: '400' }],
        ['http_server_request_duration_seconds', { method: 'GET', route: 'device_page', status_code: '200' }],
        ['http_server_request_duration_seconds', { method: 'GET', route: 'other', status_code: '404' }],
      ],
      async () => {
        expect((await fetch(`${server().url}/openapi/v1/me`, { headers: m.auth })).status).toBe(200);
        // Another case of the path: express's way in, not the front dispatcher's API way.
        expect((await fetch(`${server().url}/OPENAPI/v1/me`)).status).toBe(401);
        expect((await form(`${server().url}/openapi/v1/oauth/token`, { grant_type: 'nope', client_id: 'tessera-cli' })).status).toBe(400);
        expect((await fetch(`${server().url}/device`)).status).toBe(200);
        expect((await fetch(`${server().url}/no/such/${m.token}`)).status).toBe(404);
        // The response is over before the server's close event that ends the request's trace.
        await until(async () => (await sample('http_server_request_duration_seconds', { route: 'other', status_code: '404' })) > 0, 'the 404 to be counted');
      },
    );
    expect([fast, express, token, page, other]).toEqual([1, 1, 1, 1, 1]);
  });
});

describe('tessera_auth_decisions_total', () => {
  it('when bearer requests are decided, then each decision is counted by the token source the authenticator took the token for and the result', async () => {
    const m = await member(server());
    const key = await createApiKey(server().db, m.account.id, ['apps:read']);
    const limited = await member(server());
    const sso = await ssoLogin(pair, idpUser());
    const revoked = await member(server());
    await form(`${server().url}/openapi/v1/oauth/revoke`, { token: revoked.token });
    const results = await grown(
      [
        ['tessera_auth_decisions_total', { source: 'account_device', result: 'ok' }],
        ['tessera_auth_decisions_total', { source: 'none', result: 'missing_token' }],
        ['tessera_auth_decisions_total', { source: 'none', result: 'invalid_token' }],
        ['tessera_auth_decisions_total', { source: 'account_device', result: 'invalid_token' }],
        ['tessera_auth_decisions_total', { source: 'api_key', result: 'insufficient_scope' }],
        ['tessera_auth_decisions_total', { source: 'account_device', result: 'not_found' }],
        ['tessera_auth_decisions_total', { source: 'external_device', result: 'wrong_subject' }],
        ['tessera_auth_decisions_total', { source: 'account_device', result: 'rate_limited' }],
      ],
      async () => {
        expect((await get(server(), '/me', m.token)).status).toBe(200);
        expect((await fetch(`${server().url}/openapi/v1/me`)).status).toBe(401);
        expect((await get(server(), '/me', 'not-a-token')).status).toBe(401);
        expect((await get(server(), '/me', revoked.token)).status).toBe(401);
        expect((await post(server(), `/apps/${m.appId}/chat-messages`, key, { query: 'hi', inputs: {} })).status).toBe(403);
        expect((await get(server(), '/apps/00000000-0000-4000-8000-000000000000/info', m.token)).status).toBe(404);
        expect((await get(server(), '/workspaces', sso.token)).status).toBe(403);
        for (let i = 0; i < 20; i++) expect((await get(server(), '/me', limited.token)).status).toBe(200);
        expect((await get(server(), '/me', limited.token)).status).toBe(429);
      },
    );
    // The limited token's 20 admitted requests were `ok` decisions too.
    expect(results).toEqual([21, 1, 1, 1, 1, 1, 1, 1]);
  });
});

describe('tessera_device_flow_events_total', () => {
  it('when account-branch device logins are approved, denied, collected, replayed and left to expire, then each event is counted once under the account branch', async () => {
    const m = await member(server());
    const event = (e: string) => ['tessera_device_flow_events_total', { branch: 'account', event: e }] as [string, Record<string, string>];
    const counts = await grown([event('started'), event('approved'), event('denied'), event('collected'), event('replayed'), event('expired')], async () => {
      const login = await consoleSignin(server(), m.account);
      const approved = await startFlow(server());
      expect((await decide(server(), 'approve', approved.user_code, login)).status).toBe(200);
      expect((await poll(server(), approved.device_code)).status).toBe(200);
      await backdateCollection(server(), approved.device_code);
      expect(((await (await poll(server(), approved.device_code)).json()) as { error: string }).error).toBe('invalid_grant');
      const denied = await startFlow(server());
      expect((await decide(server(), 'deny', denied.user_code, login)).status).toBe(200);
      const expiring = await startFlow(server());
      const key = recordKey(hashToken(expiring.device_code));
      const rec = JSON.parse((await server().store.get(key))!) as { expires_at_ms: number };
      await server().store.set(key, JSON.stringify({ ...rec, expires_at_ms: Date.now() - 1_000 }), 60_000);
      expect(((await (await poll(server(), expiring.device_code)).json()) as { error: string }).error).toBe('expired_token');
    });
    expect(counts).toEqual([3, 1, 1, 1, 1, 1]);
  });

  it('when a login goes through the external-SSO branch, then its start, approval and collection are counted under the sso branch', async () => {
    const event = (e: string) => ['tessera_device_flow_events_total', { branch: 'sso', event: e }] as [string, Record<string, string>];
    const counts = await grown([event('started'), event('approved'), event('collected'), ['tessera_device_flow_events_total', { branch: 'account', event: 'started' }]], async () => {
      await ssoLogin(pair, idpUser());
    });
    // Every code starts in the account branch; the SSO branch counts its own start.
    expect(counts).toEqual([1, 1, 1, 1]);
  });
});

describe('runs and streams', () => {
  it('when runs end succeeded, failed or stopped, then tessera_runs_total and tessera_run_duration_seconds count them by mode, and the in-flight and open-stream gauges go back to zero', async () => {
    const m = await member(server());
    const ok = await createTestApp(server().db, m.workspaceId, { mode: 'chat', config: chatConfig() });
    const failing = await createTestApp(server().db, m.workspaceId, { mode: 'completion', config: { model: stubModel('stub-500'), prompt: '{{ query }}', input_schema: [] } });
    const slow = await createTestApp(server().db, m.workspaceId, { mode: 'chat', config: chatConfig(stubModel('stub-slow')) });
    const counts = await grown(
      [
        ['tessera_runs_total', { mode: 'chat', status: 'succeeded' }],
        ['tessera_runs_total', { mode: 'completion', status: 'failed' }],
        ['tessera_runs_total', { mode: 'chat', status: 'stopped' }],
        ['tessera_run_duration_seconds', { mode: 'chat' }],
      ],
      async () => {
        expect((await post(server(), `/apps/${ok}/chat-messages`, m.token, { query: 'hello there', inputs: {} })).status).toBe(200);
        expect((await post(server(), `/apps/${failing}/completion-messages`, m.token, { query: 'x', inputs: {} })).status).toBe(502);
        const streaming = await post(server(), `/apps/${slow}/chat-messages`, m.token, { query: 'tick', inputs: {}, response_mode: 'streaming' });
        // While the stream is open, both gauges hold it; stopping it ends the run.
        let whileOpen: Promise<number[]> | null = null;
        await readEvents(streaming, (e) => {
          whileOpen ??= (async () => [
            await sample('tessera_runs_in_flight', { mode: 'chat' }),
            await sample('tessera_sse_streams_open'),
            (await post(server(), `/apps/${slow}/tasks/${e.task_id}/stop`, m.token, {})).status,
          ])();
        });
        expect(await whileOpen).toEqual([1, 1, 200]);
        await until(async () => (await sample('tessera_runs_total', { mode: 'chat', status: 'stopped' })) > 0, 'the stopped run to be counted');
      },
    );
    expect(counts).toEqual([1, 1, 1, 2]);
    await until(async () => (await sample('tessera_sse_streams_open')) === 0, 'the stream to be closed');
    expect(await sample('tessera_runs_in_flight')).toBe(0);
  });
});

describe('tessera_dependency_up', () => {
  it('when scraped, then the database, the store and the IdP answer 1, and a store that stops answering is 0 at the next scrape', async () => {
    const up = (dependency: string) => sample('tessera_dependency_up', { dependency });
    await scrape();
    expect([await up('database'), await up('store'), await up('idp')]).toEqual([1, 1, 1]);
    const proxy = TcpProxy.forUrl(TEST_REDIS_URL);
    await proxy.start();
    const store = await RedisStore.connect(proxy.url(TEST_REDIS_URL));
    try {
      probeDependencies(() => dependencyStates({ db: server().db, store, sso: null }));
      await proxy.cut();
      await scrape();
      expect(await up('store')).toBe(0);
      expect(await up('database')).toBe(1);
      // Without an IdP configured, there is no idp series at all.
      expect((await scrape()).match(/^tessera_dependency_up\{dependency="idp"\}/m)).toBeNull();
    } finally {
      probeDependencies(() => dependencyStates(pair.server.app.services));
      await store.close();
    }
  });
});
