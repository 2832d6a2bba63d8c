import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_RESULTS, AUTH_SOURCES, DEPENDENCIES, DEVICE_FLOW_BRANCHES, DEVICE_FLOW_EVENTS, METRICS, RUN_ENDINGS, RUN_MODES } from '../../src/observability/metric-catalog.ts';
import { deviceLogin } from '../helpers/console.ts';
import { form } from '../helpers/device.ts';
import { member } from '../helpers/fixtures.ts';
import { until } from '../helpers/processes.ts';
import { promtoolCheckMetrics, PrometheusProcess, sampleOf } from '../helpers/prometheus.ts';
import { get, post, readEvents } from '../helpers/runs.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { observe, type Observed } from '../helpers/telemetry.ts';

// A real Prometheus server (Debian's `prometheus`) scraping Tessera's metrics listener every
// second, read back through Prometheus's HTTP API; what it ingested after real traffic holds
// no token, email, subject, app or workspace id in any label.
let server: TestServer;
let observed: Observed;
let prometheus: PrometheusProcess;
/** Everything secret or identifying the traffic below used. */
const secrets: string[] = [];

beforeAll(async () => {
  const { log } = auditLog();
  server = await startServer({ log, config: { ssePingIntervalMs: 50 } });
  observed = await observe(server, log, { metrics: true });
  prometheus = await PrometheusProcess.start([new URL(observed.metricsUrl!).host]);

  const m = await member(server);
  const deviceToken = await deviceLogin(server, server, m.account);
  const query = `what is the secret word ${m.appId.slice(0, 8)}`;
  expect((await post(server, `/apps/${m.appId}/chat-messages`, deviceToken, { query, inputs: {} })).status).toBe(200);
  await readEvents(await post(server, `/apps/${m.appId}/chat-messages`, deviceToken, { query, inputs: {}, response_mode: 'streaming' }));
  const created = await post(server, '/me/api-keys', deviceToken, { name: 'ci', scopes: ['apps:read'] });
  const key = ((await created.json()) as { key: string }).key;
  expect((await get(server, `/apps/${m.appId}/info`, key)).status).toBe(200);
  expect((await get(server, `/apps/${m.appId}/info`, `${key}x`)).status).toBe(401);
  expect((await fetch(`${server.url}/openapi/v1/apps/${m.appId}/nothing-here`, { headers: m.auth })).status).toBe(404);
  await form(`${server.url}/openapi/v1/oauth/revoke`, { token: deviceToken });
  expect((await get(server, '/me', deviceToken)).status).toBe(401);
  secrets.push(m.token, deviceToken, key, m.account.email, m.account.id, m.account.password, m.workspaceId, m.appId, query);
});
afterAll(async () => {
  await prometheus?.close();
  await observed.telemetry.close();
  await server.close();
});

/** Waits until Prometheus has a scrape taken after the traffic (its run count is in). */
async function ingested(): Promise<void> {
  await until(async () => (await prometheus.query('tessera_runs_total{job="tessera",mode="chat",status="succeeded"}'))[0]?.value[1] === '2', 'Prometheus to ingest a scrape taken after the traffic', 20_000, 250);
}

describe('Tessera scraped by a real Prometheus', () => {
  it('when Prometheus scrapes METRICS_PORT every second, then the target is up and a Tessera series reads back through its HTTP API with the value Tessera holds', async () => {
    await ingested();
    expect((await prometheus.query('up{job="tessera"}'))[0]?.value[1]).toBe('1');
    const [ok] = await prometheus.query('tessera_auth_decisions_total{job="tessera",source="account_device",result="ok"}');
    expect(Number(ok!.value[1])).toBe(await sampleOf(observed.registry!, 'tessera_auth_decisions_total', { source: 'account_device', result: 'ok' }));
    expect(Number(ok!.value[1])).toBeGreaterThanOrEqual(3);
    const [revoked] = await prometheus.query('tessera_auth_decisions_total{job="tessera",source="account_device",result="invalid_token"}');
    expect(revoked!.value[1]).toBe('1');
    const [me] = await prometheus.query('sum(http_server_request_duration_seconds_count{job="tessera",route="getMe",status_code="401"})');
    expect(me!.value[1]).toBe('1');
  });

  it('when the scrape Prometheus ingested is checked with promtool, then it is clean', async () => {
    expect(await promtoolCheckMetrics(await (await fetch(observed.metricsUrl!)).text())).toBe('');
  });

  it('when every series Prometheus ingested is read back, then no label value holds a token, an email, a subject, an app or a workspace id, and every Tessera label takes only its catalog values', async () => {
    await ingested();
    const series = await prometheus.series('{job="tessera"}');
    expect(series.length).toBeGreaterThan(50);
    for (const labels of series) {
      for (const [name, value] of Object.entries(labels)) {
        for (const secret of secrets) expect(value, `${labels.__name__} ${name}`).not.toContain(secret);
      }
    }
    const routes = new Set<string>([...server.app.routes.routes.map((r) => r.name), 'other']);
    const allowed: Record<string, (v: string) => boolean> = {
      method: (v) => ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', '_OTHER'].includes(v),
      route: (v) => routes.has(v),
      status_code: (v) => /^[1-5]\d\d$/.test(v),
      source: (v) => AUTH_SOURCES.includes(v as never),
      result: (v) => AUTH_RESULTS.includes(v as never),
      branch: (v) => DEVICE_FLOW_BRANCHES.includes(v as never),
      event: (v) => DEVICE_FLOW_EVENTS.includes(v as never),
      mode: (v) => RUN_MODES.includes(v as never),
      status: (v) => RUN_ENDINGS.includes(v as never),
      dependency: (v) => DEPENDENCIES.includes(v as never),
      le: (v) => v === '+Inf' || Number.isFinite(Number(v)),
    };
    const ours = new Set(Object.values(METRICS).map((f) => f.name));
    const checked = series.filter((l) => ours.has(l.__name__!.replace(/_(bucket|count|sum)$/, '')));
    expect(checked.length).toBeGreaterThan(20);
    for (const labels of checked) {
      for (const [name, value] of Object.entries(labels)) {
        if (['__name__', 'job', 'instance'].includes(name)) continue;
        expect(allowed[name]?.(value), `${labels.__name__}{${name}="${value}"}`).toBe(true);
      }
    }
  });
});
