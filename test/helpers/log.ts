import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logger.ts';

/** A log line as pino writes it. */
export interface LogRecord {
  level: number;
  msg?: string;
  [k: string]: unknown;
}

/**
 * A logger at `level` that keeps what it writes, for assertions: every line as written, the
 * same parsed, and the audit lines among them (structured lines with `audit: true`, docs/tokens.md).
 */
export function auditLog(level = 'info'): { log: Logger; events: { event: string; [k: string]: unknown }[]; lines: string[]; records: LogRecord[] } {
  const events: { event: string; [k: string]: unknown }[] = [];
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        lines.push(line);
        const rec = JSON.parse(line) as LogRecord & { audit?: boolean; event: string };
        records.push(rec);
        if (rec.audit) events.push(rec);
      }
      done();
    },
  });
  return { log: createLogger(level, sink), events, lines, records };
}
