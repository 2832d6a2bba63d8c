import { SeverityNumber, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { NEVER_AUDITED, type AuditAttributes, type AuditEvent, type AuditOrigin } from './audit-catalog.ts';

/** Emits one audit event of the catalog (audit-catalog.ts). */
export interface AuditSink {
  <E extends AuditEvent>(event: E, attributes: AuditAttributes<E>): void;
}

/** The OpenTelemetry logger audit events go to as well, while OTLP log export is on (tracing.ts sets it). */
let exported: OtelLogger | null = null;

export function useAuditLogger(logger: OtelLogger | null): void {
  exported = logger;
}

/**
 * The audit sink: a log line at info with `audit: true` and the event as its message, and,
 * with OTLP on, an OpenTelemetry log record whose event name is the catalog name (also
 * set as the `event.name` attribute, which collectors older than the field read). An
 * attribute the catalog never allows is dropped here too, whatever a caller passed.
 */
export const auditTo =
  (log: Logger): AuditSink =>
  (event, attributes) => {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(attributes)) if (value !== undefined && !NEVER_AUDITED.has(key)) fields[key] = value;
    log.info({ audit: true, event, ...fields }, event);
    if (exported === null) return;
    const otel: Record<string, string | number | boolean | string[]> = { 'event.name': event };
    for (const [key, value] of Object.entries(fields)) if (value !== null) otel[key] = value as string | number | boolean | string[];
    exported.emit({ eventName: event, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: event, attributes: otel });
  };

/** The request an event happens in: its id and the client's address (as trusted proxies report it). */
export function originOf(req: Pick<Request, 'id' | 'ip'>): AuditOrigin {
  return { request_id: req.id, client_address: req.ip };
}
