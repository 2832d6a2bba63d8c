import type { Logger } from 'pino';

/** Structured audit lines (`audit: true`); the sink is the logger in production and in tests. */
export interface AuditSink {
  (event: string, fields: Record<string, unknown>): void;
}

/** The audit sink that writes to a logger: one line at info, `audit: true`, the event as its message. */
export const auditTo =
  (log: Logger): AuditSink =>
  (event, fields) =>
    log.info({ audit: true, event, ...fields }, event);
