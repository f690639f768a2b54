// One error type for everything a client may see: a stable string code, an HTTP status and optional
// details. Anything else that reaches the error middleware becomes a 500 with no internals.
import type { ZodType, output } from 'zod';

/**
 * Every error code the API answers, with its HTTP status: the one list. `fail(code, message)` takes
 * the status from here, the OpenAPI document lists these codes as an enum, and a typo does not compile.
 */
export const ERROR_CATALOGUE = {
  validation_failed: 400,
  malformed_json: 400,
  invalid_utf8: 400,
  request_aborted: 400,
  /** Any other unreadable body (a body-parser error that is the client's fault). */
  bad_request: 400,
  unauthorized: 401,
  invalid_token: 401,
  session_required: 403,
  insufficient_scope: 403,
  csrf_rejected: 403,
  not_found: 404,
  idempotency_key_reused: 409,
  concurrent_change: 409,
  job_finished: 409,
  job_not_failed: 409,
  api_key_limit_reached: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  quota_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** An error whose code and message are safe to show to the API client. Build one with `fail`. */
export class AppError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.status = ERROR_CATALOGUE[code];
    this.headers = options?.headers ?? {};
  }
}

/** The error answering `code` (its status from the catalogue) with a message for people. */
export const fail = (
  code: ErrorCode,
  message: string,
  options?: { details?: unknown; headers?: Record<string, string>; cause?: unknown },
) => new AppError(code, message, options?.details, options);

export const notFound = (what = 'resource') => fail('not_found', `${what} not found`);
export const unauthorized = (message = 'a valid bearer token is required') =>
  fail('unauthorized', message, { headers: { 'WWW-Authenticate': 'Bearer' } });
const retryAfter = (seconds: number) => ({ 'Retry-After': String(Math.max(1, Math.ceil(seconds))) });
export const rateLimited = (retryAfterSeconds: number, message = 'too many requests') =>
  fail('rate_limited', message, { headers: retryAfter(retryAfterSeconds) });

/** The 503 for a request the server cannot serve right now; `Retry-After` says when to try again. */
export const serviceUnavailable = (message: string, retryAfterSeconds: number) =>
  fail('service_unavailable', message, { headers: retryAfter(retryAfterSeconds) });

/** Path ids are UUIDs: anything else names no row, so it is the same 404 as another user's row. */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string) => UUID_RE.test(id);

/** One problem in a refused request: where (a dotted field path, a header, or "(body)") and what. */
export interface ValidationDetail {
  path: string;
  message: string;
}

/** The 400 for a request that fails validation; `details` lists every problem found, not the first. */
export const validationFailed = (details: ValidationDetail[]) =>
  fail('validation_failed', 'the request is not valid', { details });

/** zod issues as `details` entries; an issue about the whole input gets the path "(body)". */
export function zodDetails(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): ValidationDetail[] {
  return issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
}

/** `input` parsed by `schema`, or the validation_failed 400 listing every issue. */
export function parseOrThrow<S extends ZodType>(schema: S, input: unknown): output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw validationFailed(zodDetails(r.error.issues));
  return r.data;
}

/** SQLSTATE codes we branch on, named. */
export const SQLSTATE = {
  CHECK_VIOLATION: '23514',
  SERIALIZATION_FAILURE: '40001',
  DEADLOCK_DETECTED: '40P01',
  /** A write on a standby, on a session with default_transaction_read_only, or LISTEN during recovery. */
  READ_ONLY_SQL_TRANSACTION: '25006',
  ADMIN_SHUTDOWN: '57P01',
  CRASH_SHUTDOWN: '57P02',
  /** The server is starting, shutting down or in recovery ("the database system is in recovery mode"). */
  CANNOT_CONNECT_NOW: '57P03',
} as const;

/** True for errors that the same rows will raise again: data exceptions and constraint violations. */
export function isDeterministicWriteError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23)[0-9A-Z]{3}$/.test(code);
}

/** True for a deadlock or serialization failure: the transaction lost a race, was rolled back, and may simply run again. */
export function isTransactionConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === SQLSTATE.DEADLOCK_DETECTED || code === SQLSTATE.SERIALIZATION_FAILURE;
}

/** Server states of a failover or restart: the node is read-only, shutting down or not up yet. */
const UNAVAILABLE_SQLSTATES: ReadonlySet<string> = new Set([
  SQLSTATE.READ_ONLY_SQL_TRANSACTION,
  SQLSTATE.ADMIN_SHUTDOWN,
  SQLSTATE.CRASH_SHUTDOWN,
  SQLSTATE.CANNOT_CONNECT_NOW,
]);

/**
 * True when the error means no writable database can be reached right now: connection refused or
 * lost, the server shutting down or starting, or a read-only node (a standby, a demoted primary: the
 * window of a failover). The API answers these with 503 and Retry-After, and a connection that
 * raised one is never reused (withTransaction). The messages cover errors re-wrapped without a code.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code))
    return true;
  if (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code)) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|the database system is (?:in recovery mode|starting up|shutting down|not yet accepting connections)|in a read-only transaction|during recovery/i.test(
    msg,
  );
}
