import { context, diag, DiagLogLevel, propagation, trace, type DiagLogger } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import type { Logger } from 'pino';
import type { RouteName } from '../http/route-names.ts';
import { VERSION } from '../version.ts';
import { useAuditLogger } from './audit.ts';
import { RequestContextManager } from './context-manager.ts';
import type { OtelSignals } from './otel-settings.ts';
import { traceRequests } from './server-spans.ts';
import { useTracer } from './spans.ts';

export interface OpenTelemetry {
  /** Gives the server spans `http.route`: each route name's path as declared. */
  routes(templates: ReadonlyMap<RouteName, string>): void;
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

/**
 * OpenTelemetry's Node SDK, configured by the standard OTEL_* variables only (service name,
 * OTLP endpoint and protocol per signal, sampler, batching), with what Tessera decides
 * itself: the service is `tessera` unless named, metrics stay Prometheus's (no OTLP metric
 * reader), no auto-instrumentation (spans are made at the boundaries we own), and a signal
 * whose endpoint is not set exports nothing. The SDK is loaded only when a signal is on.
 */
export async function startOpenTelemetry(signals: OtelSignals, log: Logger): Promise<OpenTelemetry | null> {
  if (!signals.traces && !signals.logs) return null;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const contextManager = new RequestContextManager();
  const named = Boolean(process.env.OTEL_SERVICE_NAME?.trim()) || /(^|,)\s*service\.name\s*=/.test(process.env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    contextManager,
    metricReaders: [],
    instrumentations: [],
    ...(named ? {} : { serviceName: 'tessera' }),
    ...(signals.traces ? {} : { spanProcessors: [] }),
    ...(signals.logs ? {} : { logRecordProcessors: [] }),
  });
  // After the SDK, which installs a console logger for OTEL_LOG_LEVEL: its lines belong on stderr, as ours.
  diag.setLogger(diagTo(log), { logLevel: diagLevel(process.env.OTEL_LOG_LEVEL), suppressOverrideMessage: true });
  sdk.start();
  let templates: ReadonlyMap<RouteName, string> = new Map();
  let untrace = () => {};
  if (signals.traces) {
    const tracer = trace.getTracer('tessera', VERSION);
    useTracer(tracer);
    untrace = traceRequests(tracer, contextManager.storage, () => templates);
  }
  if (signals.logs) useAuditLogger(logs.getLogger('tessera', VERSION));
  log.info({ traces: signals.traces, audit_log_records: signals.logs }, 'opentelemetry: exporting over OTLP');
  return {
    routes(t) {
      templates = t;
    },
    async shutdown() {
      untrace();
      useTracer(null);
      useAuditLogger(null);
      await sdk.shutdown();
      // The API's globals go back to no-ops, so a later start (another app in the same process) registers its own.
      trace.disable();
      context.disable();
      propagation.disable();
      logs.disable();
    },
  };
}

function diagTo(log: Logger): DiagLogger {
  const at = (level: 'error' | 'warn' | 'info' | 'debug') => (message: string, ...args: unknown[]) =>
    log[level]({ otel: true, ...(args.length ? { detail: args.map((a) => (a instanceof Error ? a.message : String(a))) } : {}) }, `opentelemetry: ${message}`);
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), verbose: at('debug') };
}

function diagLevel(setting: string | undefined): DiagLogLevel {
  const level = (setting ?? '').trim().toUpperCase() as keyof typeof DiagLogLevel;
  return level in DiagLogLevel ? DiagLogLevel[level] : DiagLogLevel.WARN;
}
