// pino JSON logs. Redaction is a safety net only: code must not log tokens, secrets or job bodies.
import { pino, type Logger } from 'pino';

export type { Logger };

/** Creates the process logger; `name` tells server, scheduler and migrate lines apart. */
export function createLogger(name: string, level: string): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'token',
        'access_token',
        '*.token',
        '*.access_token',
        'password',
        'secret',
      ],
      censor: '[redacted]',
    },
  });
}

/** A logger that discards everything, for tests that do not inspect logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
