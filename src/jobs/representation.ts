// Rows to the API's JSON: snake_case, UTC ISO-8601 with Z, no internal columns.
import type { ExecutionRow } from '../sql/executions.ts';
import type { JobRow, JobWithLast } from '../sql/jobRows.ts';

// A Date formats itself; copying it first (new Date(d)) cost 7% of a 1,000-job batch's CPU.
const iso = (d: Date | string | null) =>
  d === null ? null : d instanceof Date ? d.toISOString() : new Date(d).toISOString();

export function executionJson(e: ExecutionRow) {
  const started = e.started_at ? new Date(e.started_at) : null;
  return {
    round: e.round,
    attempt: e.attempt,
    started_at: iso(e.started_at),
    finished_at: iso(e.finished_at),
    duration_ms: e.duration_ms ?? (started ? new Date(e.finished_at).getTime() - started.getTime() : null),
    outcome: e.outcome,
    status_code: e.status_code,
    error: e.error,
    response_body: e.response_body,
    /** `utf8`: response_body is the text received; `base64`: the exact bytes (binary, NUL or invalid UTF-8). */
    response_body_encoding: e.response_body_encoding,
    response_truncated: e.response_truncated,
  };
}

export function jobJson(j: JobRow & Partial<Pick<JobWithLast, 'last_execution'>>) {
  const last = j.last_execution;
  return {
    id: j.id,
    name: j.name,
    status: j.status,
    request: { method: j.method, url: j.url, headers: j.headers, body: j.body },
    /** True when the request template is withheld from this credential (jobAsSeenBy). */
    redacted: false,
    fire_at: iso(j.fire_at),
    next_attempt_at: j.status === 'scheduled' || j.status === 'retrying' ? iso(j.next_attempt_at) : null,
    timeout_ms: j.timeout_ms,
    retry: {
      strategy: j.retry_strategy,
      max_attempts: j.max_attempts,
      base_delay_ms: j.base_delay_ms,
      max_delay_ms: j.max_delay_ms,
    },
    attempts: j.attempts,
    round: j.round,
    schedule_id: j.schedule_id,
    scheduled_for: iso(j.scheduled_for),
    catch_up: j.catch_up,
    created_at: iso(j.created_at),
    updated_at: iso(j.updated_at),
    completed_at: iso(j.completed_at),
    last_execution: last
      ? {
          round: last.round,
          attempt: last.attempt,
          started_at: iso(last.started_at),
          finished_at: iso(last.finished_at),
          duration_ms: last.duration_ms,
          outcome: last.outcome,
          status_code: last.status_code,
          error: last.error,
        }
      : null,
  };
}

export type JobJson = ReturnType<typeof jobJson>;

/** What every header value of a withheld request template reads. */
export const REDACTED = '[redacted]';

/**
 * A job as a credential sees it. A schedule's occurrence fires the schedule's request template, and
 * that template is schedules data: it often carries a credential of its own (an Authorization header,
 * a token in the body), which a credential that may not read schedules must not get through the jobs
 * routes. Such a credential (an API key without schedules:read) still sees the occurrence — status,
 * times, attempts and outcomes are jobs data — but its header values read REDACTED (names kept), its
 * body is null and `redacted` is true. Method, URL and everything else stay; one-off jobs are never
 * touched. `mayReadSchedules`: a session, or a key with schedules:read.
 */
export function jobAsSeenBy(job: JobJson, mayReadSchedules: boolean): JobJson {
  if (mayReadSchedules || job.schedule_id === null) return job;
  // fromEntries defines the keys as own properties: a header named __proto__ stays a header.
  const headers = Object.fromEntries(Object.keys(job.request.headers).map((name) => [name, REDACTED]));
  return { ...job, request: { ...job.request, headers, body: null }, redacted: true };
}

/** Opaque keyset cursor: base64url of "v1:<seq>". */
export function encodeCursor(seq: number): string {
  return Buffer.from(`v1:${seq}`).toString('base64url');
}

/** Decodes a cursor or returns null when it is not one of ours. */
export function decodeCursor(cursor: string): number | null {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return null;
  const m = /^v1:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Position in a job's attempt list: attempts are ordered by (round, attempt, id). */
export interface ExecutionCursor {
  round: number;
  attempt: number;
  id: number;
}

/** Opaque cursor after an execution: base64url of "e2:<round>:<attempt>:<id>". */
export function encodeExecutionCursor(e: { round: number; attempt: number; id: number | string }): string {
  return Buffer.from(`e2:${e.round}:${e.attempt}:${e.id}`).toString('base64url');
}

/**
 * Decodes an execution cursor, or null when it is not one of ours. "e1:<attempt>:<id>", from before
 * rounds, reads as round 1: a client paging across the upgrade is not refused.
 */
export function decodeExecutionCursor(cursor: string): ExecutionCursor | null {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^e2:(\d{1,9}):(\d{1,9}):(\d{1,18})$/.exec(text) ?? /^e1:()(\d{1,9}):(\d{1,18})$/.exec(text);
  if (!m) return null;
  const round = m[1] === '' ? 1 : Number(m[1]);
  const attempt = Number(m[2]);
  const id = Number(m[3]);
  return Number.isSafeInteger(id) && id > 0 && attempt > 0 && round > 0 ? { round, attempt, id } : null;
}
