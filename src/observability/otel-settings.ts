/**
 * Which OpenTelemetry signals are on, from the standard OTEL_* variables alone (the SDK
 * reads them again itself): traces when an OTLP endpoint for traces is set, audit log
 * records when one for logs is, neither otherwise. The values Tessera relies on are
 * checked here, at start, so a typo stops the process with one line instead of silently
 * exporting nothing (docs/observability.md).
 */
export interface OtelSignals {
  readonly traces: boolean;
  readonly logs: boolean;
}

export class OtelSettingError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(detail);
  }
}

const PROTOCOLS = ['http/protobuf', 'http/json'];
const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];
const EXPORTERS = ['otlp', 'none'];

export function otelSignals(env: NodeJS.ProcessEnv): OtelSignals {
  const value = (name: string) => env[name]?.trim() || undefined;
  const oneOf = (name: string, allowed: string[]) => {
    const v = value(name);
    if (v !== undefined && !allowed.includes(v)) throw new OtelSettingError(name, `expected one of ${allowed.join(', ')}`);
  };
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT']) {
    const v = value(name);
    if (v !== undefined && !/^https?:\/\/[^/]/i.test(v)) throw new OtelSettingError(name, 'expected an http:// or https:// URL (OTLP over HTTP), e.g. http://localhost:4318');
  }
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL']) oneOf(name, PROTOCOLS);
  oneOf('OTEL_TRACES_SAMPLER', SAMPLERS);
  oneOf('OTEL_TRACES_EXPORTER', EXPORTERS);
  oneOf('OTEL_LOGS_EXPORTER', EXPORTERS);
  const ratio = value('OTEL_TRACES_SAMPLER_ARG');
  if (ratio !== undefined && /traceidratio$/.test(value('OTEL_TRACES_SAMPLER') ?? '')) {
    const n = Number(ratio);
    if (!(n >= 0 && n <= 1)) throw new OtelSettingError('OTEL_TRACES_SAMPLER_ARG', 'expected a ratio from 0 to 1, e.g. 0.1');
  }
  const disabled = value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true';
  const endpoint = value('OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined;
  return {
    traces: !disabled && value('OTEL_TRACES_EXPORTER') !== 'none' && (endpoint || value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined),
    logs: !disabled && value('OTEL_LOGS_EXPORTER') !== 'none' && (endpoint || value('OTEL_EXPORTER_OTLP_LOGS_ENDPOINT') !== undefined),
  };
}
