import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Fields that must never reach a log line, whatever a caller passes by mistake (an error carrying request headers, a
 * whole request object): credentials. Redaction is a safety net; callers log ids and counts in the first place.
 */
const REDACT = [
  'authorization',
  'cookie',
  'token',
  '*.authorization',
  '*.cookie',
  '*.token',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

/**
 * Structured JSON logs on stdout, one object a line. Callers log ids and counts; tokens and a user's feature values
 * stay out (a user's values may appear at `debug` level only). Every HTTP request is one `request` line with its
 * request id (src/telemetry/http.ts).
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'ranking-gateway' }, redact: { paths: REDACT, censor: '[redacted]' } });
}
