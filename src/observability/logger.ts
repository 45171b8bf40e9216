/**
 * Structured JSON logs on stdout (pino): one object per line, read by every log
 * pipeline without parsing rules.
 */
import { pino } from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Lines are written synchronously: the server logs events, never one line per request,
 * so the cost is nil, and no line is lost when the process dies by a signal or a crash.
 */
export function createLogger(level: LogLevel): Logger {
  return pino(
    { level, base: { service: 'brisk' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: true }),
  );
}
