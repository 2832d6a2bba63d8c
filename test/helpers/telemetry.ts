import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { otelSignals } from '../../src/observability/otel-settings.ts';
import { enableMetrics } from '../../src/observability/metrics.ts';
import { startTelemetry, type Telemetry } from '../../src/observability/telemetry.ts';
import { dependencyStates } from '../../src/system/health.ts';
import type { TestServer } from './server.ts';

export interface Observed {
  telemetry: Telemetry;
  /** The metrics listener's `/metrics` (null when metrics are off). */
  metricsUrl: string | null;
  /** The process's metrics registry (null when metrics are off). */
  registry: Registry | null;
}

/**
 * Telemetry for an in-process test server, started as `tessera-server start` starts it:
 * metrics on a listener of their own (port 0) when `metrics`, OpenTelemetry from the
 * process's OTEL_* variables, the server's routes and dependencies observed.
 */
export async function observe(server: TestServer, log: Logger, opts: { metrics: boolean }): Promise<Observed> {
  const config = { ...server.config, metricsPort: opts.metrics ? 0 : null, otel: otelSignals(process.env) };
  const telemetry = await startTelemetry(config, log);
  const services = server.app.services;
  telemetry.observe({ routes: server.app.routes.routes, probe: () => dependencyStates(services) });
  const listener = await telemetry.listen();
  const metricsUrl = listener ? `http://127.0.0.1:${(listener.address() as AddressInfo).port}/metrics` : null;
  return { telemetry, metricsUrl, registry: opts.metrics ? enableMetrics() : null };
}
