import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout. Callers log ids and counts; tokens and a user's feature values stay out. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'ranking-gateway' } });
}
