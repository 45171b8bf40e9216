/**
 * Structured JSON logs on stdout (pino): one object per line, cheap enough for
 * the request path, and read by every log pipeline without parsing rules.
 */
import { pino } from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { service: 'brisk' }, timestamp: pino.stdTimeFunctions.isoTime });
}
