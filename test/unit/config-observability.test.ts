import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('the configuration was accepted');
};

describe('observability settings', () => {
  it('when none is set, then metrics and both OpenTelemetry signals are off', () => {
    expect(loadConfig({})).toMatchObject({ metricsPort: null, otel: { traces: false, logs: false } });
  });

  it('when METRICS_PORT is set, then it is the metrics port; equal to PORT or not a port, the start stops naming it', () => {
    expect(loadConfig({ METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(refusal({ PORT: '9000', METRICS_PORT: '9000' })).toBe('invalid configuration: METRICS_PORT: must differ from PORT: metrics are never served on the public port');
    expect(refusal({ METRICS_PORT: 'ninety' })).toMatch(/^invalid configuration: METRICS_PORT: /);
    expect(refusal({ METRICS_PORT: '70000' })).toMatch(/^invalid configuration: METRICS_PORT: /);
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, { traces: true, logs: true }],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, { traces: true, logs: false }],
    [{ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://collector:4318/v1/logs' }, { traces: false, logs: true }],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }, { traces: false, logs: true }],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_LOGS_EXPORTER: 'none' }, { traces: true, logs: false }],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }, { traces: false, logs: false }],
  ])('when the OTEL_* variables are %j, then the signals on are %j', (env, signals) => {
    expect(loadConfig(env).otel).toEqual(signals);
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL: expected one of http/protobuf, http/json'],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/xml' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: expected one of http/protobuf, http/json'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL'],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER: expected one of always_on'],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '10%' }, 'OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1'],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER: expected one of otlp, none'],
  ])('when %j is set, then the start stops with one line naming the variable', (env, message) => {
    expect(refusal(env)).toContain(`invalid configuration: ${message}`);
  });
});
