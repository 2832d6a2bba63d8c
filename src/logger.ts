import { PinoPretty } from 'pino-pretty';
import { pino, type DestinationStream, type Logger } from 'pino';

// Tokens never reach logs: anything that could carry one is redacted at the source.
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'access_token',
  'device_code',
  'token',
  'password',
  '*.access_token',
  '*.device_code',
  '*.token',
  '*.password',
];

export type LogFormat = 'json' | 'pretty';

/**
 * `auto` (the default of LOG_FORMAT) is readable lines for a person at a terminal
 * in development, and JSON everywhere else (production, pipes, files, log shippers).
 */
export function resolveLogFormat(setting: 'auto' | LogFormat, env: string, stderrIsTty = process.stderr.isTTY === true): LogFormat {
  if (setting !== 'auto') return setting;
  return stderrIsTty && env !== 'production' ? 'pretty' : 'json';
}

/**
 * Every log line goes to stderr (fd 2), so stdout carries only a command's output
 * (`--json` answers stay one parsable document). Writes are synchronous: a line
 * logged just before the process exits is not lost.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: LogFormat = 'json'): Logger {
  const stream: DestinationStream =
    (destination as DestinationStream | undefined) ??
    (format === 'pretty'
      ? PinoPretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
      : pino.destination({ dest: 2, sync: true }));
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: undefined }, stream);
}

export type { Logger };
