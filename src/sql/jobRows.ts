// The shapes of a job: its row, what creating one takes, and the column lists that return it.
import type { JobStatus } from '../jobs/stateMachine.ts';
import type { RetryColumns, RetryPolicy } from '../jobs/backoff.ts';
import type { ExecutionRow } from './executions.ts';
import { sql } from './sql.ts';

/** The outbound request a job (or a schedule's template) makes. */
export interface RequestColumns {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

export interface JobRow extends RetryColumns {
  id: string;
  seq: number;
  user_id: string;
  name: string | null;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  fire_at: Date;
  next_attempt_at: Date;
  timeout_ms: number;
  status: JobStatus;
  /** Attempts made in this round (a re-drive starts the next round, from 0). */
  attempts: number;
  /** 1, plus one per re-drive. */
  round: number;
  idempotency_key: string | null;
  request_hash: Buffer | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  /** Set on a schedule's occurrences. */
  schedule_id: string | null;
  scheduled_for: Date | null;
  catch_up: boolean;
  /** The W3C traceparent of the request that created the job (tracing on only); never in the API. */
  trace_parent: string | null;
}

export type JobWithLast = JobRow & { last_execution: ExecutionRow | null };

export interface NewJob {
  userId: string;
  name: string | null;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  fireAt: Date | null; // null: now + delaySeconds
  delaySeconds: number;
  timeoutMs: number;
  retry: RetryPolicy;
  idempotencyKey: string | null;
  requestHash: Buffer | null;
  /** Wake the schedulers only for a job due within this many ms (their poll finds later ones). */
  notifyWithinMs: number;
  /** The creating request's W3C traceparent; null when not tracing. */
  traceParent: string | null;
}

/** A job of a batch: its id is chosen by the caller, so the answer keeps the batch's order. */
export type NewBatchJob = Omit<NewJob, 'notifyWithinMs'> & { id: string };

/**
 * The columns of a JobRow, named: a statement that returns them keeps its result type when a later
 * migration adds a column, so it can stay prepared across a rolling deploy (`RETURNING *` in a
 * prepared statement fails with "cached plan must not change result type" once the table changes).
 * Unqualified: every statement using it reads one relation with these columns.
 */
export const JOB_COLUMNS = sql`id, seq, user_id, name, method, url, headers, body, fire_at, next_attempt_at,
  timeout_ms, status, attempts, round, idempotency_key, request_hash, created_at, updated_at, completed_at,
  schedule_id, scheduled_for, catch_up, trace_parent, retry_strategy, max_attempts, base_delay_ms, max_delay_ms`;

/**
 * The latest execution of job `j`, summary fields only: a list of 100 jobs must not drag 100 response
 * bodies along. Latest in the executions' order (round, attempt, id): a re-drive's attempts come after
 * the earlier round's.
 */
export const LAST_EXECUTION = sql`(SELECT jsonb_build_object('round', e.round, 'attempt', e.attempt,
     'started_at', e.started_at, 'finished_at', e.finished_at, 'duration_ms', e.duration_ms, 'outcome', e.outcome,
     'status_code', e.status_code, 'error', e.error) FROM job_executions e
   WHERE e.job_id = j.id ORDER BY e.round DESC, e.attempt DESC, e.id DESC LIMIT 1) AS last_execution`;
