// What one attempt produced, shaped as it is stored: the result, the error text (undici's error
// chain flattened, capped to the column's CHECK), and a refused redirect's text.
import type { AttemptResult } from '../jobs/stateMachine.ts';
import { cleanText, type BodyEncoding } from '../jobs/storedText.ts';

/** Stored error texts are capped by a CHECK on job_executions.error. */
const MAX_ERROR_CHARS = 2000;

export interface ExecutionResult {
  result: AttemptResult | { kind: 'aborted'; reason: string };
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  /** How responseBody is stored: text, or base64 of bytes that are not NUL-free UTF-8. */
  responseEncoding: BodyEncoding;
  responseTruncated: boolean;
  retryAfterMs: number | null;
  /** performance.now() (the executor's clock) when the request was handed to undici. */
  sentAt: number;
  durationMs: number;
}

/** A result ending at `endedAt` (the executor's clock): its duration, and its error text capped. */
export function result(
  sentAt: number,
  r: Partial<ExecutionResult> & Pick<ExecutionResult, 'result'>,
  endedAt: number,
): ExecutionResult {
  return {
    statusCode: null,
    responseBody: null,
    responseEncoding: 'utf8',
    responseTruncated: false,
    retryAfterMs: null,
    sentAt,
    ...r,
    error: r.error == null ? null : cleanText(r.error, MAX_ERROR_CHARS),
    durationMs: Math.round(endedAt - sentAt),
  };
}

/** The text of an error and its causes ("message (code): cause message …"). */
export function message(err: unknown): string {
  const parts: string[] = [];
  for (
    let e = err as { cause?: unknown; message?: unknown; code?: unknown } | undefined, i = 0;
    e && i < 4;
    e = e.cause as typeof e, i++
  ) {
    const m = typeof e.message === 'string' ? e.message : 'error';
    parts.push(typeof e.code === 'string' && !m.includes(e.code) ? `${m} (${e.code})` : m);
  }
  return parts.join(': ').slice(0, 2000);
}

/**
 * The stored text for a refused redirect: the Location without its query string or fragment (they
 * often carry tokens), and never logged.
 */
export function redirectError(location: string | string[] | undefined): string {
  const raw = Array.isArray(location) ? location[0] : location;
  if (!raw) return 'redirect (no Location) not followed';
  const cut = raw.search(/[?#]/);
  return `redirect to ${(cut === -1 ? raw : raw.slice(0, cut)).slice(0, 500)} not followed`;
}
