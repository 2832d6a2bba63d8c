import { pino, type Logger } from 'pino';

// Tokens never reach logs: anything that could carry one is redacted at the source.
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.access_token',
  '*.device_code',
  '*.token',
  '*.password',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: undefined }, destination as never);
}

export type { Logger };
