import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceLogin } from '../helpers/console.ts';
import { form } from '../helpers/device.ts';
import { createTestApp, member } from '../helpers/fixtures.ts';
import { startOpenAiStub, type OpenAiStub } from '../helpers/openai-stub.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedLog, type ReceivedSpan } from '../helpers/otlp-receiver.ts';
import { until } from '../helpers/processes.ts';
import { chatConfig, post, stubModel } from '../helpers/runs.ts';
import { auditLog, startServer, type TestServer } from '../helpers/server.ts';
import { observe, type Observed } from '../helpers/telemetry.ts';

// OpenTelemetry (docs/observability.md): traces and audit log records exported over OTLP/HTTP
// to a receiver in this process, configured by the standard OTEL_* variables alone, once in
// each protocol. Spans are sampled always here (OTEL_TRACES_SAMPLER=parentbased_always_on).
let receiver: OtlpReceiver;
let stub: OpenAiStub;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  stub = await startOpenAiStub();
});
afterAll(async () => {
  await stub.close();
  await receiver.close();
});

const traceparent = (sampled = true) => {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, header: `00-${traceId}-${parentId}-${sampled ? '01' : '00'}` };
};

const spansOf = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
async function span(traceId: string, name: string | RegExp): Promise<ReceivedSpan> {
  const find = () => spansOf(traceId).find((s) => (typeof name === 'string' ? s.name === name : name.test(s.name)));
  await until(async () => find() !== undefined, `span ${String(name)} of trace ${traceId}`);
  return find()!;
}
async function record(event: string, where: (l: ReceivedLog) => boolean = () => true): Promise<ReceivedLog> {
  const find = () => receiver.logs.find((l) => l.eventName === event && where(l));
  await until(async () => find() !== undefined, `log record ${event}`);
  return find()!;
}

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  describe(`OTLP over ${protocol}`, () => {
    let server: TestServer;
    let observed: Observed;
    let audit: ReturnType<typeof auditLog>;
    /** What must never be exported: tokens, codes, passwords, queries and answers used below. */
    const secrets: string[] = [];

    beforeAll(async () => {
      Object.assign(process.env, {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_TRACES_SAMPLER: 'parentbased_always_on',
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_BLRP_SCHEDULE_DELAY: '50',
      });
      audit = auditLog();
      server = await startServer({ log: audit.log, config: { openai: { baseUrl: stub.url, apiKey: 'sk-provider-secret' } } });
      observed = await observe(server, audit.log, { metrics: false });
    });
    afterAll(async () => {
      await observed.telemetry.close();
      await server.close();
      for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_TRACES_SAMPLER', 'OTEL_BSP_SCHEDULE_DELAY', 'OTEL_BLRP_SCHEDULE_DELAY']) delete process.env[name];
    });

    it('when a request arrives with a W3C traceparent, then its server span continues that trace, named METHOD route with the HTTP and Tessera attributes, with Redis and Postgres child spans, whichever way it is served', async () => {
      const m = await member(server);
      secrets.push(m.token, m.account.password);
      for (const path of ['/openapi/v1/me', '/OPENAPI/v1/me']) {
        const t = traceparent();
        expect((await fetch(`${server.url}${path}`, { headers: { ...m.auth, traceparent: t.header } })).status).toBe(200);
        const s = await span(t.traceId, 'GET getMe');
        expect(s).toMatchObject({ parentSpanId: t.parentId, kind: 2, statusCode: 0 });
        expect(s.attributes).toMatchObject({
          'http.request.method': 'GET',
          'http.route': '/openapi/v1/me',
          'http.response.status_code': 200,
          'tessera.operation_id': 'getMe',
          'tessera.token_source': 'account_device',
          'url.path': path,
        });
        expect(s.resource['service.name']).toBe('tessera');
        const redis = await span(t.traceId, 'EVALSHA sliding_window_v2');
        expect(redis).toMatchObject({ parentSpanId: s.spanId, kind: 3 });
        expect(redis.attributes).toMatchObject({ 'db.system.name': 'redis', 'db.operation.name': 'EVALSHA', 'db.stored_procedure.name': 'sliding_window_v2' });
      }
      // The first /me of a token was cold: its identity came from Postgres.
      const cold = receiver.spans.find((s) => s.name === 'SELECT' && spansOf(s.traceId).some((p) => p.spanId === s.parentSpanId && p.name === 'GET getMe'));
      expect(cold?.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT' });
      expect(cold?.attributes['db.query.text']).toMatch(/FROM oauth_access_tokens t/);
    });

    it('when a refused or unmatched request is traced, then its span says so: the token source none, a 401, and the route other for a path nothing serves', async () => {
      const refused = traceparent();
      await fetch(`${server.url}/openapi/v1/me`, { headers: { traceparent: refused.header } });
      expect((await span(refused.traceId, 'GET getMe')).attributes).toMatchObject({ 'http.response.status_code': 401, 'tessera.token_source': 'none' });
      const unmatched = traceparent();
      await fetch(`${server.url}/nothing/here?user_code=ABCD-EFGH`, { headers: { traceparent: unmatched.header } });
      const s = await span(unmatched.traceId, 'GET other');
      expect(s.attributes).toMatchObject({ 'http.response.status_code': 404, 'tessera.operation_id': 'other', 'url.path': '/nothing/here' });
      expect(s.attributes['http.route']).toBeUndefined();
    });

    it('when a run calls the model provider, then the call is a child span and the provider request carries the trace on in traceparent; an unsampled trace is carried on unsampled and exports nothing', async () => {
      const m = await member(server);
      const appId = await createTestApp(server.db, m.workspaceId, { mode: 'chat', config: chatConfig(stubModel('stub-echo')) });
      const query = `tell me about ${randomBytes(6).toString('hex')}`;
      secrets.push(m.token, query, 'sk-provider-secret');
      const t = traceparent();
      const res = await post(server, `/apps/${appId}/chat-messages`, m.token, { query, inputs: {} }, { headers: { Authorization: `Bearer ${m.token}`, 'Content-Type': 'application/json', traceparent: t.header } });
      expect(res.status).toBe(200);
      const root = await span(t.traceId, 'POST createChatMessage');
      const call = await span(t.traceId, 'chat stub-echo');
      expect(call).toMatchObject({ parentSpanId: root.spanId, kind: 3 });
      expect(call.attributes).toEqual({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'stub-echo' });
      expect(stub.requests.at(-1)!.traceparent).toBe(`00-${t.traceId}-${call.spanId}-01`);
      // The run's Postgres writes are in the trace too.
      expect(spansOf(t.traceId).some((s) => s.attributes['db.system.name'] === 'postgresql' && s.parentSpanId === root.spanId)).toBe(true);

      const unsampled = traceparent(false);
      const again = await post(server, `/apps/${appId}/chat-messages`, m.token, { query, inputs: {} }, { headers: { Authorization: `Bearer ${m.token}`, 'Content-Type': 'application/json', traceparent: unsampled.header } });
      expect(again.status).toBe(200);
      expect(stub.requests.at(-1)!.traceparent).toMatch(new RegExp(`^00-${unsampled.traceId}-[0-9a-f]{16}-00$`));
      // A sampled request after it is exported; by then the unsampled one would have been too.
      const after = traceparent();
      await fetch(`${server.url}/openapi/v1/me`, { headers: { ...m.auth, traceparent: after.header } });
      await span(after.traceId, 'GET getMe');
      expect(spansOf(unsampled.traceId)).toEqual([]);
    });

    it('when a device login, a revocation and a run happen, then each audit event is an OpenTelemetry log record named by the catalog, with the subject, token id, client, request id and client address, as well as a log line', async () => {
      const m = await member(server);
      const token = await deviceLogin(server, server, m.account);
      secrets.push(token, m.token, m.account.password);
      const approved = await record('oauth.device_flow_approved', (l) => l.attributes.subject === m.account.id);
      expect(approved.attributes).toMatchObject({ 'event.name': 'oauth.device_flow_approved', branch: 'account', client_id: 'tessera-cli', device_label: 'laptop' });
      expect(approved.attributes.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(approved.attributes.client_address).toBe('127.0.0.1');
      const issued = await record('oauth.token_issued', (l) => l.attributes.subject === m.account.id && l.attributes.device_label === 'laptop');
      expect(issued.attributes).toMatchObject({ token_kind: 'account_device', client_id: 'tessera-cli', subject_issuer: 'tessera:account' });
      expect(issued.resource['service.name']).toBe('tessera');

      expect((await form(`${server.url}/openapi/v1/oauth/revoke`, { token })).status).toBe(200);
      const revoked = await record('oauth.token_revoked', (l) => l.attributes.token_id === issued.attributes.token_id);
      expect(revoked.attributes).toMatchObject({ subject: m.account.id, reason: 'rfc7009' });
      expect(revoked.attributes.request_id).toEqual(expect.any(String));

      const query = `a question of ${randomBytes(6).toString('hex')}`;
      secrets.push(query);
      const t = traceparent();
      const run = await post(server, `/apps/${m.appId}/chat-messages`, m.token, { query, inputs: {} }, { headers: { Authorization: `Bearer ${m.token}`, 'Content-Type': 'application/json', traceparent: t.header, 'X-Request-Id': `req-${t.parentId}` } });
      expect(run.status).toBe(200);
      const ran = await record('app.run.openapi', (l) => l.attributes.request_id === `req-${t.parentId}`);
      expect(ran.attributes).toMatchObject({ app_id: m.appId, subject: `account:${m.account.id}`, mode: 'chat', status: 'succeeded', client_address: '127.0.0.1' });
      // Emitted inside the request: the record is in its trace.
      expect(ran.traceId).toBe(t.traceId);
      expect(spansOf(t.traceId).map((s) => s.spanId)).toContain(ran.spanId);

      for (const event of ['oauth.device_flow_approved', 'oauth.token_issued', 'oauth.token_revoked', 'app.run.openapi']) {
        expect(audit.events.some((e) => e.event === event)).toBe(true);
      }
    });

    it(`when everything above was exported, then every body went out in ${protocol} and not one byte of them holds a token, a password, a query or an answer`, async () => {
      const sent = receiver.bodies.filter((b) => b.protocol === (protocol === 'http/json' ? 'json' : 'protobuf'));
      expect(sent.some((b) => b.path === '/v1/traces')).toBe(true);
      expect(sent.some((b) => b.path === '/v1/logs')).toBe(true);
      expect(secrets.length).toBeGreaterThanOrEqual(8);
      for (const b of receiver.bodies) for (const secret of secrets) expect(b.bytes.includes(secret), `${b.path} holds a secret`).toBe(false);
    });
  });
}
