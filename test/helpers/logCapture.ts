// A pino logger that keeps what it writes (parsed), for tests that check or wait on the log: the
// cause of a 5xx by its request id, a warning a failover must log.
import { pino, type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg?: string;
  request_id?: string;
  err?: { message?: string; stack?: string; code?: string };
  [key: string]: unknown;
}

export interface CapturedLog {
  logger: Logger;
  /** Every line written so far (the first `limit`). */
  lines: LogLine[];
  /** What was logged for a request id, as "msg: first lines of the stack" (for a failure message). */
  causeOf: (requestId: string | undefined) => string[];
}

export function capturingLogger(level: pino.Level = 'debug', limit = 10_000): CapturedLog {
  const lines: LogLine[] = [];
  const logger = pino(
    { level },
    {
      write(line: string) {
        if (lines.length < limit) lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  const causeOf = (requestId: string | undefined) => {
    const mine = lines.filter((l) => requestId && l.request_id === requestId);
    return mine.length
      ? mine.map(
          (l) => `${l.msg}: ${(l.err?.stack ?? l.err?.message ?? '').split('\n').slice(0, 4).join(' | ')}`,
        )
      : ['(nothing logged for this request id)'];
  };
  return { logger, lines, causeOf };
}
