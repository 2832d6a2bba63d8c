/** Structured audit lines (`audit: true`); the sink is the logger in production and in tests. */
export interface AuditSink {
  (event: string, fields: Record<string, unknown>): void;
}
