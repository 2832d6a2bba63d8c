import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { ManifestRoute } from '../http/route-manifest.ts';
import type { RouteName } from '../http/route-names.ts';
import type { Dependency } from './metric-catalog.ts';
import { listenMetrics } from './metrics-server.ts';
import { enableMetrics, probeDependencies } from './metrics.ts';
import { startOpenTelemetry, type OpenTelemetry } from './tracing.ts';

/** What telemetry needs of the app it observes. */
export interface ObservedApp {
  /** Every declared route: server spans report each route name's path as `http.route`. */
  routes: readonly ManifestRoute[];
  /** Whether each dependency answers now (`tessera_dependency_up`, probed when scraped). */
  probe(): Promise<Partial<Record<Dependency, boolean>>>;
}

export interface Telemetry {
  observe(app: ObservedApp): void;
  /** Opens the metrics listener on HOST:METRICS_PORT (nothing when METRICS_PORT is unset). */
  listen(): Promise<Server | null>;
  /** Closes the metrics listener and exports what traces and audit records are still buffered. */
  close(): Promise<void>;
}

/**
 * The server's observability, started before the app (docs/observability.md): Prometheus
 * metrics when METRICS_PORT is set, OpenTelemetry traces and audit log records when the
 * OTEL_* variables name an endpoint. Off, none of it runs.
 */
export async function startTelemetry(cfg: Config, log: Logger): Promise<Telemetry> {
  const registry = cfg.metricsPort === null ? null : enableMetrics();
  const otel: OpenTelemetry | null = await startOpenTelemetry(cfg.otel, log);
  let server: Server | null = null;
  return {
    observe(app) {
      probeDependencies(() => app.probe());
      otel?.routes(templatesOf(app.routes));
    },
    async listen() {
      if (!registry) return null;
      server = await listenMetrics(registry, cfg.host, cfg.metricsPort!);
      const address = server.address();
      log.info({ metrics: `http://${cfg.host}:${typeof address === 'object' && address ? address.port : cfg.metricsPort}/metrics` }, 'metrics listening');
      return server;
    },
    async close() {
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      await otel?.shutdown();
    },
  };
}

/** Route name → its path as declared (`/openapi/v1/apps/:app_id/info`); a name's first declaration wins. */
function templatesOf(routes: readonly ManifestRoute[]): ReadonlyMap<RouteName, string> {
  const templates = new Map<RouteName, string>();
  for (const r of routes) if (!templates.has(r.name)) templates.set(r.name, r.path);
  return templates;
}
