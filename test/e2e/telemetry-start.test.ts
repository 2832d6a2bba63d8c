import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/server/free-port.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.ts';
import { until } from '../helpers/processes.ts';

// `tessera-server start` and an admin command as their own processes, configured by the
// environment alone: the metrics listener, traces flushed on shutdown, admin audit records.
const ROOT = path.resolve(import.meta.dirname, '../..');
let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});

const otel = () => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  // Longer than the test: what is exported was flushed by the shutdown (or the command's end).
  OTEL_BSP_SCHEDULE_DELAY: '600000',
  OTEL_BLRP_SCHEDULE_DELAY: '600000',
});

function startServer(env: Record<string, string>): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL, LOG_LEVEL: 'warn', ...env },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out, exit: new Promise((resolve) => child.on('exit', resolve)) };
}

describe('tessera-server start with METRICS_PORT and OTEL_* set', () => {
  it('when it runs, then /metrics answers on METRICS_PORT only, and on SIGTERM the spans still buffered are exported before it exits 0', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const s = startServer({ PORT: String(port), METRICS_PORT: String(metricsPort), ...otel() });
    try {
      await until(async () => s.output().includes('Tessera is running'), 'the server to start', 60_000, 100);
      const traceId = randomBytes(16).toString('hex');
      const health = await fetch(`http://127.0.0.1:${port}/openapi/v1/_health`, { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } });
      expect(health.status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/^http_server_request_duration_seconds_count\{method="GET",route="getHealth",status_code="200"\} 1$/m);
      expect(metrics).toMatch(/^tessera_dependency_up\{dependency="store"\} 1$/m);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      expect(receiver.spans.some((sp) => sp.traceId === traceId)).toBe(false);
      s.child.kill('SIGTERM');
      expect(await s.exit).toBe(0);
      const spans = receiver.spans.filter((sp) => sp.traceId === traceId);
      const root = spans.find((sp) => sp.name === 'GET getHealth');
      expect(root?.attributes['http.route']).toBe('/openapi/v1/_health');
      // Its checks: a Postgres query and a Redis PING, children of the request's span.
      expect(spans.filter((sp) => sp.parentSpanId === root!.spanId).map((sp) => sp.name).sort()).toEqual(['PING', 'SELECT']);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  it('when METRICS_PORT is taken, then the start stops with one line naming it', async () => {
    const metricsPort = await freePort();
    const squatter = createServer().listen(metricsPort, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    try {
      const s = startServer({ PORT: String(await freePort()), METRICS_PORT: String(metricsPort) });
      expect(await s.exit).toBe(1);
      expect(s.output().trim().split('\n').at(-1)).toBe(
        `tessera-server: port ${metricsPort} on 127.0.0.1 is already in use. Stop whatever uses it, or start on another port, e.g. METRICS_PORT=${metricsPort + 1} npm start`,
      );
    } finally {
      squatter.close();
    }
  });

  it('when an admin command changes something with OTLP log export on, then its admin.<command> audit record is sent before it exits', async () => {
    const name = `ws-${randomBytes(4).toString('hex')}`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', 'admin', 'create-workspace', '--name', name, '--json'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, ...otel() } }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    const workspace = JSON.parse(out) as { id: string };
    const record = receiver.logs.find((l) => l.eventName === 'admin.create-workspace' && l.attributes.workspace_id === workspace.id);
    expect(record?.attributes).toMatchObject({ 'event.name': 'admin.create-workspace', workspace_id: workspace.id });
  });
});
